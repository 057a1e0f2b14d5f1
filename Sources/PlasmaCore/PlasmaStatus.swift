/// Outcome codes shared by the store, the wire and the client. Stable numbers: they travel on the wire.
public enum PlasmaStatus: UInt16, Sendable, CaseIterable {
    /// The request did what it asked.
    case ok = 0
    /// A create of an id that is taken: by an object present (sealed or not) or spilled to the
    /// external store.
    case objectExists = 1
    /// No object with this id (seal, abort, delete, release), or no such subscription (unsubscribe).
    case objectNotFound = 2
    /// A create the store has no room for, even after evicting every unreferenced sealed object: at
    /// once when the create doesn't wait for space, or when its wait for space runs out. Retry after
    /// releasing or deleting objects, or wait for space.
    case outOfMemory = 3
    /// A delete of an object still being written: only its creator can drop it, with abort.
    case objectNotSealed = 4
    /// The Arrow dialect's answer to a delete of an object that is still referenced; native clients
    /// get ``deletionDeferred`` instead.
    case objectInUse = 5
    /// A seal or abort of an object that is already sealed.
    case objectAlreadySealed = 6
    /// A seal or abort by a client other than the object's creator.
    case notCreator = 7
    /// A release of an object this client holds no reference to (never got it, or released it already).
    case notHeld = 8
    /// Reserved for a wait that ran out; the store doesn't send it: a get that times out answers with
    /// the objects it has, and a create whose wait for space runs out gets ``outOfMemory``.
    case timedOut = 9
    /// A request the store won't act on as sent: a request id that is already waiting, subscription
    /// id 0, or a connection the store closes for misbehaving (sent with request id 0 before closing).
    case invalidRequest = 10
    /// A create larger than the store's whole capacity (data + metadata), which no eviction can fit.
    case tooLarge = 11
    /// A per-client or per-store limit: `--client-quota`, too many waiting gets or creates, too many
    /// subscriptions, or too many clients (`--max-clients`, at connect). The message names the limit.
    case limitReached = 12
    /// A delete of a sealed object that clients still reference: it is marked and goes with the last
    /// release. Not a failure: the delete will happen.
    case deletionDeferred = 13
    /// Reserved for requests refused because the store is stopping; the store doesn't send it now: it
    /// closes connections as it stops, which clients see as a disconnect.
    case shuttingDown = 14
    /// The answer to a waiting get or create that its client withdrew (a cancelled task).
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
