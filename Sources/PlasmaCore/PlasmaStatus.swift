/// Outcome codes shared by the store, the wire and the client. Stable numbers: they travel on the wire.
public enum PlasmaStatus: UInt16, Sendable, CaseIterable {
    case ok = 0
    case objectExists = 1
    case objectNotFound = 2
    case outOfMemory = 3
    case objectNotSealed = 4
    case objectInUse = 5
    case objectAlreadySealed = 6
    case notCreator = 7
    case notHeld = 8
    case timedOut = 9
    case invalidRequest = 10
    case tooLarge = 11
    case limitReached = 12
    case deletionDeferred = 13
    case shuttingDown = 14
    case cancelled = 15

    /// What the code means, in words a log reader understands.
    public var summary: String {
        switch self {
        case .ok: "ok"
        case .objectExists: "an object with this id already exists"
        case .objectNotFound: "no such object"
        case .outOfMemory: "the store is full and nothing evictable frees enough space"
        case .objectNotSealed: "the object is not sealed yet"
        case .objectInUse: "the object is in use"
        case .objectAlreadySealed: "the object is already sealed"
        case .notCreator: "only the client that created the object may do this"
        case .notHeld: "this client holds no reference to the object"
        case .timedOut: "timed out"
        case .invalidRequest: "invalid request"
        case .tooLarge: "larger than the store's capacity"
        case .limitReached: "a store limit was reached"
        case .deletionDeferred: "deletion deferred until every reference is released"
        case .shuttingDown: "the store is shutting down"
        case .cancelled: "cancelled by the client"
        }
    }
}
