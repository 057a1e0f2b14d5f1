import PlasmaPosix

/// What went wrong on a transfer connection, before it becomes a ``PullFailure`` (puller) or a counter
/// and a log line (server).
enum TransferFault: Error, CustomStringConvertible {
    /// The peer closed the connection (EOF) where bytes were due.
    case closed
    /// A receive or send waited longer than its timeout.
    case timedOut
    /// A call failed (ECONNRESET, EPIPE, ...).
    case system(SystemError)
    /// The peer sent what the protocol doesn't allow.
    case protocolViolation(String)
    /// The peer refused this side's proof of the token.
    case refusedByPeer
    /// The peer's proof of the token was wrong.
    case wrongProof
    /// A request or reply header after the handshake carried a wrong session MAC: forged, replayed,
    /// reordered or altered (a relay's own request, say).
    case wrongMAC
    /// The server proved a node name other than the location's: the location is forged or stale.
    case wrongNode(expected: String, proven: String)
    /// The client proved the token, but the server had no place for it (``TransferAdmission``): closed
    /// without a verdict, which the client sees as a connection closed in the handshake.
    case noPlace

    init(_ error: SystemError) {
        self = error.errno == .wouldBlock ? .timedOut : .system(error)
    }

    /// True for ``timedOut``.
    var isTimeout: Bool {
        if case .timedOut = self { true } else { false }
    }

    var description: String {
        switch self {
        case .closed: "the peer closed the connection"
        case .timedOut: "timed out"
        case .system(let error): "\(error)"
        case .protocolViolation(let what): "protocol violation: \(what)"
        case .refusedByPeer: "the peer refused this node's proof of the cluster token"
        case .wrongProof: "the peer's proof of the cluster token is wrong"
        case .wrongMAC: "a message carried a wrong session MAC (forged, replayed or altered)"
        case .wrongNode(let expected, let proven): "the peer proved to be node '\(proven)', not '\(expected)' (a forged or stale location)"
        case .noPlace: "no place for the peer's connection"
        }
    }
}

extension TCPSocket {
    /// Fills `buffer` before `deadline` (CLOCK_MONOTONIC ns): the receive timeout is set to what is
    /// left before each receive, so a peer trickling a byte at a time can't stretch it.
    func receiveExactly(into buffer: UnsafeMutableRawBufferPointer, before deadline: UInt64) throws(TransferFault) {
        var filled = 0
        while filled < buffer.count {
            let now = MonotonicClock.nanoseconds()
            guard now < deadline else { throw .timedOut }
            let count: Int
            do {
                try setTimeouts(receive: .nanoseconds(Int64(deadline - now)), send: .nanoseconds(Int64(deadline - now)))
                count = try receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            } catch {
                throw TransferFault(error)
            }
            if count == 0 { throw .closed }
            filled += count
        }
    }

    /// Fills `bytes` before `deadline` (see above).
    func receiveExactly(_ bytes: inout [UInt8], before deadline: UInt64) throws(TransferFault) {
        let result = bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(TransferFault) in try receiveExactly(into: buffer, before: deadline) }
        }
        if case .failure(let fault) = result { throw fault }
    }

    /// Fills `bytes` (blocking within the socket's timeouts).
    func receiveExactly(_ bytes: inout [UInt8]) throws(TransferFault) {
        let result = bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(SystemError) -> Bool in try receiveExactly(into: buffer) }
        }
        switch result {
        case .success(true): return
        case .success(false): throw .closed
        case .failure(let error): throw TransferFault(error)
        }
    }

    /// Sends all of `bytes` (blocking within the socket's timeouts).
    func send(_ bytes: [UInt8]) throws(TransferFault) {
        let result = bytes.withUnsafeBytes { buffer in Result { () throws(SystemError) in try sendAll(buffer) } }
        if case .failure(let error) = result { throw TransferFault(error) }
    }
}
