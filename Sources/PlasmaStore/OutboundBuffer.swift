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

    var pendingBytes: Int { writer.buffer.count - start }
    var isEmpty: Bool { pendingBytes == 0 }
    /// Heap held by a reply being assembled elsewhere before it is queued here (a list built in slices:
    /// StoreServer+Lists.swift).
    var buildingBytes = 0
    /// What the buffer holds of the heap while anything is pending: its whole capacity (the bytes
    /// already written stay until all are, and growth doubles), and a reply being built. Charged to the
    /// client-state budget.
    var heldBytes: Int { (isEmpty ? 0 : writer.buffer.capacity) + buildingBytes }

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
        // not charged, so it must stay small.
        writer.buffer.removeAll(keepingCapacity: writer.buffer.capacity <= 256 << 10)
        start = 0
        return .done
    }
}
