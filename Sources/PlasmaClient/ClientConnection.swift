import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// One socket to the store, shared by every thread of a client: requests carry ids, so replies may
/// come back in any order (a get that waits doesn't hold up the replies behind it).
///
/// Leader/follower reading: whichever caller finds no reader active reads frames and hands each reply
/// to its waiter; the others sleep on the condition. A single-threaded caller reads its own reply with
/// no thread hop, which keeps a round trip at the socket's latency.
final class ClientConnection: @unchecked Sendable {
    // @unchecked: mutable state below is guarded by `state` except the `inbound` buffer and its indices,
    // which only the one active reader (readerActive == true) touches.
    let socket: UnixSocket
    private let state = Condition()
    private let sending = Condition()
    private var nextRequestID: UInt64 = 1
    private var awaited: Set<UInt64> = []
    private var replies: [UInt64: Reply] = [:]
    private var readerActive = false
    private var failure: PlasmaClientError?

    private var inbound = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
    private var inboundStart = 0
    private var inboundEnd = 0
    private var descriptors: [Int32] = []

    /// How long the active reader polls the socket before it sleeps in the kernel. Waking a sleeping
    /// (halted) CPU costs tens of microseconds on a VM; a reply usually comes back sooner than that.
    private let spinNanoseconds: UInt64

    init(socket: UnixSocket, spin: Duration) throws(PlasmaClientError) {
        self.socket = socket
        spinNanoseconds = spin.clampedNanoseconds
        do {
            try socket.setNonBlocking(true)
        } catch {
            throw .disconnected("cannot configure the socket: \(error)")
        }
    }

    deinit {
        inbound.deallocate()
        for fd in descriptors { UnixSocket(rawValue: fd).close() }
        socket.close()
    }

    /// Sends a request and waits for its reply.
    func call(_ request: Request) throws(PlasmaClientError) -> Reply {
        let id = try send(request, awaitingReply: true)
        return try waitForReply(id)
    }

    /// Sends a request whose reply nobody waits for (releases from deinit); the reply is discarded.
    func post(_ request: Request) {
        _ = try? send(request, awaitingReply: false)
    }

    /// Stops the connection: every waiting and later call fails with `disconnected`.
    func shutdown(reason: String) {
        state.withLock {
            if failure == nil { failure = .disconnected(reason) }
            state.broadcast()
        }
        socket.shutdown()
    }

    /// Takes the descriptors that arrived with replies so far (the arena, after connect).
    func takeDescriptors() -> [Int32] {
        state.withLock {
            defer { descriptors.removeAll() }
            return descriptors
        }
    }

    private func send(_ request: Request, awaitingReply: Bool) throws(PlasmaClientError) -> UInt64 {
        let id: UInt64 = try state.withLock { () throws(PlasmaClientError) -> UInt64 in
            if let failure { throw failure }
            defer { nextRequestID += 1 }
            if awaitingReply { awaited.insert(nextRequestID) }
            return nextRequestID
        }
        var writer = ByteWriter()
        request.encode(requestID: id, into: &writer)
        let sent = sending.withLock {
            writer.buffer.withUnsafeBytes { raw in Result { () throws(SystemError) in try socket.writeAll(raw) } }
        }
        if case .failure(let error) = sent {
            let failure = PlasmaClientError.disconnected("sending failed: \(error)")
            state.withLock {
                awaited.remove(id)
                if self.failure == nil { self.failure = failure }
                state.broadcast()
            }
            throw failure
        }
        return id
    }

    private func waitForReply(_ id: UInt64) throws(PlasmaClientError) -> Reply {
        state.lock()
        defer { state.unlock() }
        while true {
            if let reply = replies.removeValue(forKey: id) {
                awaited.remove(id)
                return reply
            }
            if let failure {
                awaited.remove(id)
                throw failure
            }
            if readerActive {
                state.wait()
                continue
            }
            readerActive = true
            state.unlock()
            let frame = Result { () throws(PlasmaClientError) in try readFrame() }
            state.lock()
            readerActive = false
            switch frame {
            case .success(let (requestID, reply)):
                if awaited.contains(requestID) {
                    replies[requestID] = reply
                } else if requestID == 0, case .failure(let status, let message) = reply, failure == nil {
                    // Id 0 is the store speaking for itself: it is ending the connection and says why.
                    failure = .store(status, message: message)
                }
            case .failure(let error):
                if failure == nil { failure = error }
            }
            state.broadcast()
        }
    }

    // MARK: Reading (active reader only)

    /// Decodes the next reply, reading from the socket as needed.
    private func readFrame() throws(PlasmaClientError) -> (UInt64, Reply) {
        while true {
            let rest = UnsafeRawBufferPointer(rebasing: inbound[inboundStart..<inboundEnd])
            let header: FrameHeader?
            do {
                header = try FrameHeader.decode(rest, maxPayload: Int(UInt32.max))
            } catch {
                throw .protocolViolation("bad reply header: \(error)")
            }
            if let header {
                let size = FrameHeader.size + header.payloadLength
                if rest.count >= size {
                    inboundStart += size
                    do {
                        let payload = UnsafeRawBufferPointer(rebasing: rest[FrameHeader.size..<size])
                        return (header.requestID, try Reply.decode(type: header.type, payload: payload))
                    } catch {
                        throw .protocolViolation("bad reply (type \(header.type)): \(error)")
                    }
                }
                makeRoom(for: size)
            } else {
                makeRoom(for: FrameHeader.size)
            }
            try fill()
        }
    }

    /// Moves the unread bytes to the front, and grows the buffer when one frame needs more.
    private func makeRoom(for frameSize: Int) {
        let unread = inboundEnd - inboundStart
        if frameSize > inbound.count {
            let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: frameSize, alignment: 16)
            grown.baseAddress!.copyMemory(from: inbound.baseAddress! + inboundStart, byteCount: unread)
            inbound.deallocate()
            inbound = grown
        } else if inboundStart > 0 {
            inbound.baseAddress!.copyMemory(from: inbound.baseAddress! + inboundStart, byteCount: unread)
        }
        (inboundStart, inboundEnd) = (0, unread)
    }

    /// Reads what the socket has, keeping any descriptors: polls for `spinNanoseconds`, then blocks.
    private func fill() throws(PlasmaClientError) {
        var received: [Int32] = []
        let spinDeadline = spinNanoseconds > 0 ? MonotonicClock.nanoseconds() + spinNanoseconds : 0
        var count: Int?
        do {
            while true {
                count = try socket.receive(into: UnsafeMutableRawBufferPointer(rebasing: inbound[inboundEnd...]), descriptors: &received)
                if count != nil { break }
                if MonotonicClock.nanoseconds() >= spinDeadline { try socket.waitUntilReadable() }
            }
        } catch {
            throw .disconnected("reading failed: \(error)")
        }
        if !received.isEmpty { state.withLock { descriptors.append(contentsOf: received) } }
        guard let count, count > 0 else { throw .disconnected("the store closed the connection") }
        inboundEnd += count
    }
}
