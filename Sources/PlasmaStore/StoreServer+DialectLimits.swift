import PlasmaEngine
import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// Client limits per dialect. They apply once a connection's first 8 bytes have told its dialect, not at
/// accept: a refusal must be in the client's own terms, and libplasma aborts its whole process
/// (`io.cc:106 Check failed: version == kPlasmaProtocolVersion`) on a native frame.
///
/// - Native clients: at most `--max-clients`; one more gets a native `limitReached` notice and is closed.
/// - Arrow clients: never counted against `--max-clients`. Arrow's store has no client limit short of
///   descriptors, so by default neither does this one; with `--max-arrow-clients` one more is closed
///   without a word (Arrow's protocol has no refusal; pyarrow's connect raises an IOError).
/// Connections still undetermined count against neither; the descriptor limit bounds them.
struct DialectAdmission {
    var nativeClients = 0
    var arrowClients = 0
    /// Refusals are logged at most once a second (a connection flood must not flood the log); the
    /// ones in between are counted in the next line and in `stats` (`connections_refused`).
    var refusalLog = WarningRateLimit(burst: 1, intervalNanoseconds: 1_000_000_000)
}

extension StoreServer {
    /// The first 8 bytes said native: true when admitted; otherwise it has been refused and closed.
    func admitNativeClient(_ connection: Connection) -> Bool {
        guard admission.nativeClients < configuration.maxClients else {
            let reason = "too many clients: the store serves at most \(configuration.maxClients) native clients (--max-clients)"
            // Best effort, never blocking: the client learns why (request id 0 = the store itself).
            Reply.failure(.limitReached, message: reason).encode(type: .connect, requestID: 0, into: &connection.outbound.writer)
            _ = try? connection.outbound.flush(to: connection.socket)
            refused(connection, reason: reason)
            return false
        }
        admission.nativeClients += 1
        connection.admitted = true
        return true
    }

    /// The first 8 bytes said Arrow: true when admitted; otherwise it has been closed without a frame.
    func admitArrowClient(_ connection: Connection) -> Bool {
        if let limit = configuration.maxArrowClients, admission.arrowClients >= limit {
            refused(connection, reason: "too many Arrow clients: the store serves at most \(limit) (--max-arrow-clients); closed without a reply, as Arrow's protocol has none")
            return false
        }
        admission.arrowClients += 1
        connection.admitted = true
        return true
    }

    /// A closing connection gives its place back.
    func releaseAdmission(of connection: Connection) {
        guard connection.admitted else { return }
        connection.admitted = false
        switch connection.dialect {
        case .native: admission.nativeClients -= 1
        case .arrow: admission.arrowClients -= 1
        case .undetermined: break
        }
    }

    private func refused(_ connection: Connection, reason: String) {
        counters.refusedConnections += 1
        let (log, notLogged) = admission.refusalLog.admit(now: clock.monotonicNanoseconds())
        if log {
            let more = notLogged > 0 ? " (and \(notLogged) more since the last such line)" : ""
            logger.warning("refused a connection from pid \(connection.peer?.pid ?? -1): \(reason)\(more)")
        }
        close(connection, reason: nil)
    }
}
