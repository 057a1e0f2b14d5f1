import DequeModule
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
/// - Connections still undetermined (no first 8 bytes yet): at most `--max-clients` at once (at least
///   64: clients connect in bursts, and Arrow clients don't count against `--max-clients`). One more
///   closes the one that has waited longest (without a frame: its dialect is unknown), so that silent
///   connections can't take every descriptor, while a client that speaks at once is never refused for them
///   (one whose first 8 bytes wait unread, accepted in the same burst, is spared: `hasBytesWaiting`).
struct DialectAdmission {
    var nativeClients = 0
    var arrowClients = 0
    /// Connections that have not yet said their dialect, oldest first, by client id (never the connection
    /// itself: a closed one must not stay alive here with its buffers); closed or determined ones are
    /// skipped lazily (`undeterminedCount` is exact).
    var undetermined = Deque<ClientID>()
    var undeterminedCount = 0
    /// The fewest connections allowed to wait for their first bytes, whatever `--max-clients` says.
    static let undeterminedFloor = 64
    /// Refusals are logged at most once a second (a connection flood must not flood the log); the
    /// ones in between are counted in the next line and in `stats` (`connections_refused`).
    var refusalLog = WarningRateLimit(burst: 1, intervalNanoseconds: 1_000_000_000)
}

extension StoreServer {
    /// A new connection, dialect unknown: counted; past `--max-clients` such connections, the one that
    /// has waited longest for its first bytes is closed.
    func admitUndetermined(_ connection: Connection) {
        passMeter.work.accepted += 1
        connection.countedUndetermined = true
        admission.undeterminedCount += 1
        admission.undetermined.append(connection.client)
        let limit = max(configuration.maxClients, DialectAdmission.undeterminedFloor)
        while admission.undeterminedCount > limit, let client = admission.undetermined.first {
            // Never the newcomer itself: it has had no time to speak (the others ahead were spared).
            if client == connection.client { break }
            admission.undetermined.removeFirst()
            guard let oldest = connections[client], oldest.countedUndetermined, !oldest.isClosed else { continue }
            // Accepted in the same burst as the newcomer, or paused before its dialect was decided, its
            // first bytes may wait unread, in the socket or in its buffer: a client that has spoken is not
            // silent. It leaves the queue (once), and counts until it is read.
            let buffered = oldest.inbound.count
            if buffered >= 8 || oldest.socket.hasBytesWaiting(8 - buffered) { continue }
            refused(oldest, reason: "\(admission.undeterminedCount) connections had not sent their first bytes, at most \(limit) may wait so (--max-clients, at least \(DialectAdmission.undeterminedFloor)): closed the one waiting longest")
        }
        // Entries already determined or closed are dropped once they outnumber the counted ones.
        if admission.undetermined.count > 2 * admission.undeterminedCount + 64 {
            admission.undetermined = Deque(admission.undetermined.filter { connections[$0]?.countedUndetermined == true })
        }
    }

    /// Its dialect is known (or it closed): it no longer counts as undetermined.
    func leaveUndetermined(_ connection: Connection) {
        guard connection.countedUndetermined else { return }
        connection.countedUndetermined = false
        admission.undeterminedCount -= 1
    }

    /// The first 8 bytes said native: true when admitted; otherwise it has been refused and closed.
    func admitNativeClient(_ connection: Connection) -> Bool {
        leaveUndetermined(connection)
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
        leaveUndetermined(connection)
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
        passMeter.work.closed += 1
        leaveUndetermined(connection)
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
