import PlasmaCore
import PlasmaPosix

/// Everything a client call can fail with.
public enum PlasmaClientError: Error, CustomStringConvertible, Equatable {
    /// The store refused the request; `status` says why, `message` has the store's details.
    case store(PlasmaStatus, message: String)
    /// No store answered on the socket path.
    case cannotConnect(path: String, reason: String)
    /// The connection is gone (the store stopped, or `close()` was called).
    case disconnected(String)
    /// The store sent something this client can't make sense of.
    case protocolViolation(String)
    /// These objects were not sealed before the timeout.
    case timedOut([ObjectID])

    public var description: String {
        switch self {
        case .store(_, let message): "store refused: \(message)"
        case .cannotConnect(let path, let reason): "cannot connect to a plasma store at \(path): \(reason)"
        case .disconnected(let reason): "disconnected from the store: \(reason)"
        case .protocolViolation(let what): "protocol violation: \(what)"
        case .timedOut(let ids):
            "timed out waiting for \(ids.count == 1 ? "object" : "objects") \(ids.map(\.hex).joined(separator: ", ")) to be sealed"
        }
    }

    /// The store's status code, when the store refused.
    public var status: PlasmaStatus? {
        if case .store(let status, _) = self { return status }
        return nil
    }
}
