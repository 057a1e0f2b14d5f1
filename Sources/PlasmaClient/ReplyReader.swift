import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// Turns the bytes a store sends into replies, keeping any descriptors that ride along.
///
/// Not thread-safe: exactly one reader at a time (the leader of a blocking client, or the read loop for
/// an async one).
final class ReplyReader {
    private let socket: UnixSocket
    /// How long to poll a nonblocking socket before sleeping in the kernel (adapts to whether it pays).
    private var spin: AdaptiveSpin
    private var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
    private var start = 0
    private var end = 0
    /// Descriptors received so far and not yet taken.
    var descriptors: [Int32] = []

    init(socket: UnixSocket, spin: Duration) {
        self.socket = socket
        self.spin = AdaptiveSpin(maximumNanoseconds: spin.clampedNanoseconds)
    }

    deinit {
        buffer.deallocate()
        for fd in descriptors { UnixSocket(rawValue: fd).close() }
    }

    /// What the store sends: a reply to a request, or an event for a subscription.
    enum Incoming {
        case reply(requestID: UInt64, Reply)
        case event(subscriptionID: UInt64, ObjectEvent)
    }

    /// The next reply (skipping events): for the handshake and clients that never subscribe.
    func nextReply() throws(PlasmaClientError) -> (requestID: UInt64, reply: Reply) {
        while true {
            if case .reply(let requestID, let reply) = try next() { return (requestID, reply) }
        }
    }

    /// The next frame, reading from the socket as needed.
    func next() throws(PlasmaClientError) -> Incoming {
        while true {
            if let frame = try nextBuffered() { return frame }
            try fill()
        }
    }

    /// The next frame, or nil when none has come by `deadline` (`MonotonicClock` nanoseconds; a
    /// deadline already past still takes what the socket holds now). Nil deadline: no limit.
    func next(deadline: UInt64?) throws(PlasmaClientError) -> Incoming? {
        guard let deadline else { return try next() }
        while true {
            if let frame = try nextBuffered() { return frame }
            guard try fill(deadline: deadline) else { return nil }
        }
    }

    /// The next frame if the bytes already read hold a whole one; otherwise nil, with room made for it.
    func nextBuffered() throws(PlasmaClientError) -> Incoming? {
        let rest = UnsafeRawBufferPointer(rebasing: buffer[start..<end])
        let header: FrameHeader?
        do {
            header = try FrameHeader.decode(rest, maxPayload: Int(UInt32.max))
        } catch {
            throw .protocolViolation("bad reply header: \(error)")
        }
        guard let header else {
            makeRoom(for: FrameHeader.size)
            return nil
        }
        let size = FrameHeader.size + header.payloadLength
        guard rest.count >= size else {
            makeRoom(for: size)
            return nil
        }
        start += size
        do {
            let payload = UnsafeRawBufferPointer(rebasing: rest[FrameHeader.size..<size])
            if header.type & MessageType.eventBit != 0 {
                return .event(subscriptionID: header.requestID, try ObjectEvent.decode(type: header.type, payload: payload))
            }
            return .reply(requestID: header.requestID, try Reply.decode(type: header.type, payload: payload))
        } catch {
            throw .protocolViolation("bad reply (type \(header.type)): \(error)")
        }
    }

    /// One nonblocking read of whatever the socket holds, for a reader that learned from epoll that it
    /// is readable. `read`: something arrived; `filled`: it filled the buffer, so more may be waiting
    /// (also when there was no room at all: call `nextBuffered` first). Throws on EOF and errors.
    func receiveAvailable() throws(PlasmaClientError) -> (read: Bool, filled: Bool) {
        let room = UnsafeMutableRawBufferPointer(rebasing: buffer[end...])
        guard room.count > 0 else { return (false, true) }
        let count: Int?
        do {
            count = try socket.receive(into: room, descriptors: &descriptors)
        } catch {
            throw .disconnected("reading failed: \(error)")
        }
        guard let count else { return (false, false) }
        guard count > 0 else { throw .disconnected("the store closed the connection") }
        end += count
        return (true, count == room.count)
    }

    /// Moves the unread bytes to the front, and grows the buffer when one frame needs more.
    private func makeRoom(for frameSize: Int) {
        let unread = end - start
        if frameSize > buffer.count {
            let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: frameSize, alignment: 16)
            grown.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: unread)
            buffer.deallocate()
            buffer = grown
        } else if start > 0 {
            buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: unread)
        }
        (start, end) = (0, unread)
    }

    /// Reads what the socket has, waiting for it until `deadline` at most; false if nothing came.
    private func fill(deadline: UInt64) throws(PlasmaClientError) -> Bool {
        let now = MonotonicClock.nanoseconds()
        let remaining = deadline > now ? deadline - now : 0
        let count: Int?
        do {
            guard try socket.waitUntilReadable(timeoutMilliseconds: Int32(clamping: (remaining + 999_999) / 1_000_000)) else {
                return false
            }
            count = try socket.receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]), descriptors: &descriptors)
        } catch {
            throw .disconnected("reading failed: \(error)")
        }
        guard let count else { return true }  // taken by no one else (one reader), so at worst a spurious wake
        guard count > 0 else { throw .disconnected("the store closed the connection") }
        end += count
        return true
    }

    /// Reads what the socket has: polls for the spin window (nonblocking sockets), then blocks.
    private func fill() throws(PlasmaClientError) {
        let window = spin.windowNanoseconds
        let deadline = window > 0 ? MonotonicClock.nanoseconds() + window : 0
        var slept = false
        var count: Int?
        do {
            while true {
                count = try socket.receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]), descriptors: &descriptors)
                if count != nil { break }
                if !slept, MonotonicClock.nanoseconds() >= deadline {
                    slept = true
                    if window > 0 { spin.missed() } else { spin.sleptWithoutPolling() }
                }
                if slept { try socket.waitUntilReadable() }
            }
        } catch {
            throw .disconnected("reading failed: \(error)")
        }
        if !slept, window > 0 { spin.caught() }
        guard let count, count > 0 else { throw .disconnected("the store closed the connection") }
        end += count
    }
}
