import PlasmaCore
import PlasmaPosix

/// Everything a client call can fail with: both clients throw this type and nothing else
/// (`throws(PlasmaClientError)`), so a `catch` sees it without a cast.
///
/// A wait that ends before an object is sealed is not an error: the call returns `nil` (see ``Wait``).
public enum PlasmaClientError: Error, CustomStringConvertible, Equatable {
    /// The store refused the request; `status` says why, `message` has the store's details.
    case store(PlasmaStatus, message: String)
    /// No store answered on the socket path.
    case cannotConnect(path: String, reason: String)
    /// The connection is gone (the store stopped, or `close()` was called).
    case disconnected(String)
    /// The store sent something this client can't make sense of.
    case protocolViolation(String)
    /// The awaiting task was cancelled (async client); its wait was withdrawn in the store, and
    /// whatever the store had already given for it is given back.
    case cancelled
    /// The store listening on `path` runs as a user this client doesn't trust (see `StoreTrust`);
    /// nothing was sent to it.
    case untrustedStore(path: String, storeUID: UInt32, storePID: Int32, clientUID: UInt32)
    /// An argument no store could accept (a negative size); nothing was sent.
    case invalidArgument(String)
    /// A write or read outside an object's bytes (``MutableObject/write(_:at:)``).
    case outOfBounds(String)
    /// A trust setting (`PLASMA_TRUSTED_STORE_UID`, a `--trust-store-uid`) that doesn't parse.
    case invalidTrust(String)

    /// One line for a person: what failed and, where the store said, why.
    public var description: String {
        switch self {
        case .store(_, let message): "store refused: \(message)"
        case .cannotConnect(let path, let reason): "cannot connect to a plasma store at \(path): \(reason)"
        case .disconnected(let reason): "disconnected from the store: \(reason)"
        case .protocolViolation(let what): "protocol violation: \(what)"
        case .cancelled: "the task was cancelled"
        case .untrustedStore(let path, let storeUID, let storePID, let clientUID):
            "the store at \(path) runs as uid \(storeUID) (pid \(storePID)), which is neither this user (uid \(clientUID)) nor root: refusing to talk to it. If you trust uid \(storeUID), set \(StoreTrust.environmentVariable)=\(storeUID) (or 'any'), or pass --trust-store-uid \(storeUID) to plasma"
        case .invalidTrust(let what): "invalid store trust: \(what)"
        case .outOfBounds(let what): "out of bounds: \(what)"
        case .invalidArgument(let what): "invalid argument: \(what)"
        }
    }

    /// The store's status code, when the store refused.
    public var status: PlasmaStatus? {
        if case .store(let status, _) = self { return status }
        return nil
    }
}
