import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// The blocking client's socket, shared by every thread: requests carry ids, so replies may come back
/// in any order (a get that waits doesn't hold up the replies behind it).
///
/// Leader/follower reading: whichever caller finds no reader active reads replies and hands each to its
/// waiter; the others sleep on the condition. A single-threaded caller reads its own reply with no
/// thread hop, which keeps a round trip at the socket's latency.
final class ClientConnection: RequestSender, @unchecked Sendable {
    // @unchecked: the mutable state below is guarded by `state`; `reader` is used only by the one
    // caller that set `readerActive`.
    let socket: UnixSocket
    private let reader: ReplyReader
    private let state = Condition()
    private let sending = Condition()
    private var nextRequestID: UInt64 = 2  // 1 was the handshake
    private var awaited: Set<UInt64> = []
    private var replies: [UInt64: Reply] = [:]
    private var readerActive = false
    private var failure: PlasmaClientError?

    init(socket: UnixSocket, reader: ReplyReader) {
        self.socket = socket
        self.reader = reader
    }

    deinit { socket.close() }

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

    private func send(_ request: Request, awaitingReply: Bool) throws(PlasmaClientError) -> UInt64 {
        let id: UInt64 = try state.withLock { () throws(PlasmaClientError) -> UInt64 in
            if let failure { throw failure }
            defer { nextRequestID += 1 }
            if awaitingReply { awaited.insert(nextRequestID) }
            return nextRequestID
        }
        do {
            try sending.withLock { () throws(PlasmaClientError) in try write(request, id: id, to: socket) }
        } catch {
            state.withLock {
                awaited.remove(id)
                if failure == nil { failure = error }
                state.broadcast()
            }
            throw error
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
            let next = Result { () throws(PlasmaClientError) in try reader.nextReply() }
            state.lock()
            readerActive = false
            switch next {
            case .success(let (requestID, reply)):
                if awaited.contains(requestID) {
                    replies[requestID] = reply
                } else if let ending = storeEndsConnection(requestID, reply), failure == nil {
                    failure = ending
                }
            case .failure(let error):
                if failure == nil { failure = error }
            }
            state.broadcast()
        }
    }
}

/// What the two connection kinds share: sending a request without waiting for it.
protocol RequestSender: AnyObject, Sendable {
    func post(_ request: Request)
}

/// Encodes one request frame and writes all of it.
func write(_ request: Request, id: UInt64, to socket: UnixSocket) throws(PlasmaClientError) {
    var writer = ByteWriter()
    request.encode(requestID: id, into: &writer)
    let sent = writer.buffer.withUnsafeBytes { raw in Result { () throws(SystemError) in try socket.writeAll(raw) } }
    if case .failure(let error) = sent { throw .disconnected("sending failed: \(error)") }
}

/// Request id 0 is the store speaking for itself: a failure there means it ends the connection, and why.
func storeEndsConnection(_ requestID: UInt64, _ reply: Reply) -> PlasmaClientError? {
    guard requestID == 0, case .failure(let status, let message) = reply else { return nil }
    return .store(status, message: message)
}
