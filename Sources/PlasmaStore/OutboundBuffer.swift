import DequeModule
import PlasmaPosix
import PlasmaWire

/// One client's pending output: frames gathered into one byte array and written with as few calls as
/// possible, with descriptors that must ride on a given byte (SCM_RIGHTS attaches to the byte it is
/// sent with, so that byte starts its own send).
struct OutboundBuffer {
    var writer = ByteWriter()
    /// Bytes of `writer.buffer` already written.
    private var start = 0
    /// (absolute byte offset in `writer.buffer`, descriptor, whether that byte goes alone) in order.
    private var descriptors: [(offset: Int, fd: Int32, alone: Bool)] = []
    /// Whole buffers queued before `writer`'s bytes, oldest first: a big frame encoded elsewhere (a list
    /// built in slices) is queued as it is rather than copied behind megabytes of unread replies, which
    /// made the buffer grow by copying (30–50 ms of the loop per list for a client that doesn't read).
    private var chunks = Deque<[UInt8]>()
    /// Bytes of `chunks.first` already written.
    private var chunkStart = 0
    private var chunkBytes = 0
    private var chunkCapacity = 0

    var pendingBytes: Int { chunkBytes - chunkStart + writer.buffer.count - start }
    var isEmpty: Bool { pendingBytes == 0 }
    /// Heap held by a reply being assembled elsewhere before it is queued here (a list built in slices:
    /// StoreServer+Lists.swift).
    var buildingBytes = 0
    /// What the buffer holds of the heap while anything is pending: its whole capacity (the bytes
    /// already written stay until all are, and growth doubles), queued chunks, and a reply being built.
    /// Charged to the client-state budget.
    var heldBytes: Int { (writer.buffer.count == start ? 0 : writer.buffer.capacity) + chunkCapacity + buildingBytes }

    /// Queues a whole frame behind what is pending, without copying it when bytes are pending already.
    mutating func append(frame: [UInt8]) {
        guard descriptors.isEmpty else {
            writer.buffer.append(contentsOf: frame)  // descriptor offsets are in `writer`: keep it whole
            return
        }
        if isEmpty {
            writer.buffer.removeAll(keepingCapacity: writer.buffer.capacity <= 256 << 10)
            start = 0
        }
        // A chunk of its own even when nothing is pending: replies queued after it go to `writer`,
        // rather than grow it by copying.
        if start < writer.buffer.count {
            // The pending bytes of `writer` go first, as a chunk (while chunks wait, `writer` isn't
            // written, so only the first chunk can have been written in part).
            var older: [UInt8] = []
            swap(&older, &writer.buffer)
            if chunks.isEmpty { chunkStart = start }
            start = 0
            queue(older)
        }
        queue(frame)
    }

    private mutating func queue(_ chunk: [UInt8]) {
        chunks.append(chunk)
        chunkBytes += chunk.count
        chunkCapacity += chunk.capacity
    }

    /// The next byte appended carries `fd`. `alone`: that byte is sent by itself (Arrow's fling: its
    /// client receives the fd with a 1-byte recvmsg and reads everything else with plain reads).
    mutating func attachDescriptorToNextByte(_ fd: Int32, alone: Bool = false) {
        descriptors.append((writer.buffer.count, fd, alone))
    }

    enum FlushResult {
        case done
        case wouldBlock
    }

    /// Writes as much as the socket takes.
    mutating func flush(to socket: UnixSocket) throws(SystemError) -> FlushResult {
        // No copy of a chunk is held across its removal: the release thread must hold its only reference.
        while !chunks.isEmpty {
            let result = chunks[0].withUnsafeBytes { raw in
                Result { () throws(SystemError) in try socket.write(UnsafeRawBufferPointer(rebasing: raw[chunkStart...])) }
            }
            guard let written = try result.get() else { return .wouldBlock }
            chunkStart += written
            guard chunkStart == chunks[0].count else { continue }
            var finished = chunks.removeFirst()
            chunkBytes -= finished.count
            chunkCapacity -= finished.capacity
            chunkStart = 0
            BufferRelease.shared.release(&finished)  // a big list reply: freed off the loop
        }
        while start < writer.buffer.count {
            // A send ends where the next descriptor's byte begins, so that byte starts its own send.
            let attach = descriptors.first.flatMap { $0.offset == start ? $0.fd : nil }
            let nextMark = descriptors.dropFirst(attach == nil ? 0 : 1).first?.offset
            let alone = attach != nil && descriptors.first!.alone
            let end = alone ? start + 1 : nextMark ?? writer.buffer.count
            let result = writer.buffer.withUnsafeBytes { raw in
                let slice = UnsafeRawBufferPointer(rebasing: raw[start..<end])
                return Result { () throws(SystemError) in
                    if let attach { return try socket.send(slice, attaching: attach) }
                    return try socket.write(slice)
                }
            }
            guard let written = try result.get() else { return .wouldBlock }
            if attach != nil { descriptors.removeFirst() }
            start += written
        }
        // Capacity is kept only up to a budget floor (ClientStateBudget): an idle connection's buffer is
        // not charged, so it must stay small. A big one is freed off the loop.
        if !BufferRelease.shared.release(&writer.buffer) {
            writer.buffer.removeAll(keepingCapacity: writer.buffer.capacity <= 256 << 10)
        }
        start = 0
        return .done
    }

    /// The connection has closed: hands every big buffer to `release` (freed off the loop) rather than
    /// free it with the connection.
    mutating func releaseStorage(to release: BufferRelease) {
        release.release(&writer.buffer)
        while var chunk = chunks.popFirst() { release.release(&chunk) }
        (start, chunkStart, chunkBytes, chunkCapacity) = (0, 0, 0, 0)
    }
}
