import PlasmaClusterCore
import PlasmaCore
import PlasmaPosix

/// One authenticated connection from this node to a peer's transfer listener, used for one pull at a
/// time and kept for the next pull from the same peer.
final class PullConnection {
    let socket: TCPSocket
    let address: String
    /// The node name the server proved in the handshake.
    let peerName: String
    /// Authenticates this connection's requests and reply headers.
    private var session: TransferSession
    /// The longest one receive may wait without progress (the socket's timeouts between pulls).
    private let ioTimeout: Duration
    /// When it last finished a pull (CLOCK_MONOTONIC ns): an idle connection the server may have closed
    /// is not reused after a while.
    var lastUsed: UInt64

    /// How many bytes one receive asks for: small enough that the chunk is still in cache when it is
    /// hashed, large enough that system calls cost nothing next to the copy.
    static let receiveChunk = 256 << 10
    /// Objects up to this size are hashed by the pulling thread itself: told of arrivals a piece at a
    /// time (``hashAnnouncementBytes``), the ``HashStage`` would overlap little of such a receive, and
    /// each telling costs a wake-up.
    static let inlineHashBytes = 1 << 20
    /// The ``HashStage`` is told of arrivals once this many bytes have come since it was last told,
    /// and of every receive within the object's last such stretch, so that after the last byte it has
    /// at most one receive (``receiveChunk``) left to hash. Each telling wakes its thread (a futex
    /// call and a context switch on each side): once per 256 KiB receive, a 64 MiB pull woke it 256
    /// times; now about 67.
    static let hashAnnouncementBytes = 1 << 20

    private init(socket: TCPSocket, address: String, peerName: String, session: TransferSession, ioTimeout: Duration) {
        self.socket = socket
        self.ioTimeout = ioTimeout
        self.address = address
        self.peerName = peerName
        self.session = session
        lastUsed = MonotonicClock.nanoseconds()
    }

    /// Connects within `connectTimeout` and runs the handshake within `ioTimeout`.
    static func open(
        to address: String, handshake: TransferHandshake, connectTimeout: Duration, ioTimeout: Duration
    ) throws(TransferFault) -> PullConnection {
        guard let endpoint = TCPEndpoint(parsing: address) else { throw .protocolViolation("transfer address '\(address)' is not host:port") }
        let socket: TCPSocket
        do { socket = try TCPSocket.connect(to: endpoint, timeout: connectTimeout) } catch { throw TransferFault(error) }
        let proven: (name: String, session: TransferSession)
        do {
            try? socket.setTimeouts(receive: ioTimeout, send: ioTimeout)
            proven = try handshake.runAsClient(on: socket, before: MonotonicClock.nanoseconds() &+ UInt64(ioTimeout.nanosecondsClamped))
            try? socket.setTimeouts(receive: ioTimeout, send: ioTimeout)
        } catch {
            socket.close()
            throw error
        }
        return PullConnection(socket: socket, address: address, peerName: proven.name, session: proven.session, ioTimeout: ioTimeout)
    }

    func close() { socket.close() }

    /// How a pull on this connection ended.
    enum Outcome {
        /// Every byte arrived and hashed to the location's checksum; the connection can serve the next.
        case success(PulledCopy)
        /// The pull failed; `reusable`: the connection is still in step (nothing unread on it).
        case failure(PullFailure, reusable: Bool)
        /// The connection was dead before any of the reply arrived (a reused connection the server had
        /// closed): the pull may be retried on a fresh one.
        case stale(TransferFault)
        /// The reply header's session MAC was wrong (altered on the way, or not from the server the
        /// handshake authenticated): an authentication failure; the connection is closed.
        case unauthentic(TransferFault)
    }

    /// The moment (CLOCK_MONOTONIC ns) from which no receive of this pull may wait longer than
    /// ``ioTimeout``, nor past `deadline`: a peer that drip-feeds the bytes just inside the receive
    /// timeout can't hold the pull (its thread and its block) for longer than the deadline.
    private func waitLimit(_ deadline: UInt64) -> UInt64 {
        min(deadline, MonotonicClock.nanoseconds() &+ UInt64(ioTimeout.nanosecondsClamped))
    }

    /// When this pull's body receives last cut the receive timeout to the deadline (CLOCK_MONOTONIC
    /// ns); nil until ``bound(by:)`` first cuts it in a pull.
    private var timeoutCutAt: UInt64?
    /// How long a cut receive timeout is kept before it is cut again. A receive that starts this long
    /// after the cut may end this long past the deadline (and a jiffy); cutting before every receive
    /// instead cost two system calls per 256 KiB receive, 512 for a 64 MiB pull.
    static let recutNanoseconds: UInt64 = 5_000_000

    /// Before a receive of the body: the socket's receive timeout is cut to what is left before
    /// `deadline` once that is less than ``ioTimeout`` (and again every ``recutNanoseconds``);
    /// throws when it has passed. True when cut.
    private func bound(by deadline: UInt64) throws(TransferFault) -> Bool {
        let now = MonotonicClock.nanoseconds()
        guard now < deadline else { throw .timedOut }
        let left = deadline - now
        guard left < UInt64(ioTimeout.nanosecondsClamped) else { return false }
        if let cutAt = timeoutCutAt, now - cutAt < Self.recutNanoseconds { return true }
        do {
            try socket.setTimeouts(receive: .nanoseconds(Int64(left)), send: ioTimeout)
        } catch {
            throw TransferFault(error)
        }
        timeoutCutAt = now
        return true
    }

    /// Why a receive of the body ended: `fault`, and whether it was the pull's deadline.
    private struct ReceiveEnd: Error {
        let fault: TransferFault
        let atDeadline: Bool
    }

    /// One receive of the body into `chunk`, within the deadline: how many bytes came (0: closed).
    private func receive(into chunk: UnsafeMutableRawBufferPointer, before deadline: UInt64) throws(ReceiveEnd) -> Int {
        let cutToDeadline: Bool
        do {
            cutToDeadline = try bound(by: deadline)
        } catch {
            throw ReceiveEnd(fault: error, atDeadline: error.isTimeout)  // .timedOut: the deadline has passed
        }
        do {
            return try socket.receive(into: chunk)
        } catch {
            // A receive timeout cut to the deadline ends at the deadline, though the clock may not say so
            // yet: the kernel counts that timeout in jiffies (and it was given in microseconds), so it can
            // end up to a jiffy before the monotonic deadline.
            let fault = TransferFault(error)
            let atDeadline = MonotonicClock.nanoseconds() >= deadline || (fault.isTimeout && cutToDeadline)
            throw ReceiveEnd(fault: fault, atDeadline: atDeadline)
        }
    }

    /// Requests `request.location` and, once the authenticated reply header confirms its sizes,
    /// reserves the block through `request.reserve` and receives the bytes straight into it, hashing
    /// them as they arrive (on `hasher`'s thread for a big object, if given); everything before
    /// `deadline` (CLOCK_MONOTONIC ns).
    func pull(_ request: PullRequest, deadline: UInt64, hasher: HashStage?, bytesReceived: inout Int) -> Outcome {
        // The receives below cut the socket's timeouts to the deadline: they are the connection's again
        // for the next pull.
        defer {
            try? socket.setTimeouts(receive: ioTimeout, send: ioTimeout)
            timeoutCutAt = nil
        }
        let location = request.location
        let message = TransferWire.Request(id: location.id, dataSize: location.dataSize, metadataSize: location.metadataSize)
        do {
            try socket.send(session.sealRequest(message.encoded))
        } catch {
            return .stale(error)
        }
        var reply = [UInt8](repeating: 0, count: TransferWire.replyBytes + TransferWire.macBytes)
        var first = [UInt8](repeating: 0, count: 1)
        do {
            try socket.receiveExactly(&first, before: waitLimit(deadline))
        } catch {
            return .stale(error)
        }
        reply[0] = first[0]
        var sizes = [UInt8](repeating: 0, count: reply.count - 1)
        do {
            try socket.receiveExactly(&sizes, before: waitLimit(deadline))
        } catch {
            return .failure(.connection("\(address): \(error)"), reusable: false)
        }
        reply.replaceSubrange(1..., with: sizes)
        // Nothing of the reply is believed, and no byte of the object received, before its MAC checks.
        let header = Array(reply.prefix(TransferWire.replyBytes))
        guard session.isValidReply(header, mac: reply.suffix(TransferWire.macBytes)) else { return .unauthentic(.wrongMAC) }
        switch TransferWire.ReplyStatus(rawValue: reply[0]) {
        case .notHeld?, .otherSizes?:
            session.advance()
            return .failure(.notHeld, reusable: true)
        case .sending?: break
        case nil: return .failure(.connection("\(address): reply status \(reply[0])"), reusable: false)
        }
        let dataSize = TransferWire.readLittleEndian(reply, at: 1)
        let metadataSize = TransferWire.readLittleEndian(reply, at: 9)
        guard dataSize == UInt64(location.dataSize), metadataSize == UInt64(location.metadataSize) else {
            return .failure(.connection("\(address): sent sizes \(dataSize)+\(metadataSize), asked for \(location.dataSize)+\(location.metadataSize)"), reusable: false)
        }
        // Only now, with sizes the holder authenticated, is room made for the copy.
        guard let buffer = request.reserve(location.dataSize, location.metadataSize) else {
            return .failure(.declined, reusable: false)  // the bytes are on their way: the connection goes
        }
        guard buffer.count == location.totalSize else {
            return .failure(.connection("the reserved block has \(buffer.count) bytes for an object of \(location.totalSize)"), reusable: false)
        }
        // Two hashes of the bytes, in one pass: the seeded one the trailer authenticates, and the plain
        // one that is the object's checksum (the location's). A big object's are computed by `hasher`
        // beside the receive (what has arrived while more lands); a small one's here, receive by receive.
        let seeds = (first: session.seed, second: UInt64(0))
        var inline = XXH64.Pair(seeds: seeds)
        let beside = buffer.count > Self.inlineHashBytes ? hasher : nil
        beside?.begin(UnsafeRawBufferPointer(buffer), seeds: seeds)
        var hashing = beside != nil
        defer { if hashing { beside?.abandon() } }  // a failure: the block is no longer read when it is freed
        var received = 0
        var announced = 0  // bytes the stage has been told of
        let lastStretch = buffer.count - Self.hashAnnouncementBytes
        while received < buffer.count {
            let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[received..<min(buffer.count, received + Self.receiveChunk)])
            let count: Int
            do {
                count = try receive(into: chunk, before: deadline)
            } catch {
                let cause = error.atDeadline ? "the pull's deadline passed" : "\(error.fault)"
                return .failure(.connection("\(address): after \(received) of \(buffer.count) bytes: \(cause)"), reusable: false)
            }
            guard count > 0 else {
                return .failure(.connection("\(address): closed after \(received) of \(buffer.count) bytes"), reusable: false)
            }
            received += count
            bytesReceived += count
            if let beside {
                if received - announced >= Self.hashAnnouncementBytes || received > lastStretch {
                    beside.arrived(upTo: received)
                    announced = received
                }
            } else {
                inline.update(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
            }
        }
        // The trailer first: the stage may still be hashing the last receive meanwhile.
        var trailer = [UInt8](repeating: 0, count: TransferWire.trailerBytes + TransferWire.macBytes)
        do {
            try socket.receiveExactly(&trailer, before: waitLimit(deadline))
        } catch {
            return .failure(.connection("\(address): no trailer after the bytes: \(error)"), reusable: false)
        }
        let (wire, plain): (UInt64, UInt64)
        if let beside {
            (wire, plain) = beside.finish()
            hashing = false
        } else {
            (wire, plain) = inline.digests
        }
        guard let sent = session.openTrailer(trailer) else { return .unauthentic(.wrongMAC) }
        session.advance()
        lastUsed = MonotonicClock.nanoseconds()
        // The holder's hash of what it sent is authentic; other bytes arrived: altered on the way.
        guard wire == sent else {
            return .failure(.checksumMismatch(expected: sent, actual: wire), reusable: false)
        }
        let actual = plain
        guard location.accepts(checksum: actual) else {
            return .failure(.checksumMismatch(expected: location.checksum ?? actual, actual: actual), reusable: true)
        }
        return .success(PulledCopy(checksum: actual))
    }
}
