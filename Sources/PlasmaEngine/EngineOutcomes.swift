import PlasmaCore

/// Why a command failed: a status every dialect maps to its own error codes, and a detail for people.
public struct EngineError: Error, Equatable, Sendable {
    /// What went wrong, in the store's own status vocabulary.
    public let status: PlasmaStatus
    /// What a person needs to know beyond the status (sizes, ids); nil when the status says it all.
    public let detail: String?

    /// A failure with `status` and an optional detail.
    public init(_ status: PlasmaStatus, _ detail: String? = nil) {
        self.status = status
        self.detail = detail
    }

    /// The status's summary, then the detail.
    public var message: String { detail.map { "\(status.summary): \($0)" } ?? status.summary }
}

/// What a create or create-and-seal did.
public enum CreateOutcome: Equatable, Sendable {
    /// Created, unsealed, held by its creator: write the bytes there, then seal.
    case created(ObjectLocation)
    /// Created with its bytes and sealed (create-and-seal); the creator holds no reference.
    case sealed
    /// No room yet: the engine answers later through ``EngineObserver/createAnswered(client:ticket:sealing:_:)``.
    case waiting
    /// Refused.
    case failed(EngineError)
}

/// What a get did.
public enum GetOutcome: Equatable, Sendable {
    /// Answered now: one location per id asked for, in order, nil for those not found (sealed).
    case answered([ObjectLocation?])
    /// Some ids aren't sealed yet: the engine answers later through ``EngineObserver/getAnswered(client:ticket:_:)``.
    case waiting
    /// Refused.
    case failed(EngineError)
}

/// What a delete did.
public enum DeleteOutcome: Equatable, Sendable {
    /// Gone now (subscribers have been told).
    case deleted
    /// Sealed but referenced: deleted when its last reference goes.
    case deferredUntilReleased
    /// Unsealed: deleted once it is sealed and unreferenced (only with `deferringUnsealed`).
    case deferredUntilSealed
    /// Unsealed, and the caller asked not to defer: nothing happened.
    case notSealed
    /// No such object.
    case notFound
}

/// How many references a client takes when it gets the same object again.
public enum ReferencePolicy: Sendable {
    /// One per get: each must be released (the native dialect).
    case counted
    /// At most one per object however often it is got: a set of objects per client.
    case atMostOnePerObject
}

/// One object as `objects()` reports it.
public struct ObjectSnapshot: Equatable, Sendable {
    /// Sizes, state, references, times.
    public var info: ObjectInfo
    /// The 8-byte digest given at seal (little-endian), 0 when none was.
    public var digest: UInt64
    /// When it was created, on the monotonic clock: the creation order.
    public var createdAtMonotonicNanoseconds: UInt64
    /// Its bytes are in the spill sink, not the arena; it is sealed and unreferenced, and comes back on get.
    public var isSpilled: Bool
}

/// Receives what the engine produces after a command has returned: a waiting get or create answered
/// (by a seal, a release, a timeout or a cancel), an event for a subscription, an object spilled or
/// restored. Called on the engine's thread, from inside an engine call.
public protocol EngineObserver: AnyObject {
    /// A get that was `.waiting` is answered: locations in request order (nil: not found), or a failure
    /// (cancelled).
    func getAnswered(client: ClientID, ticket: UInt64, _ answer: Result<[ObjectLocation?], EngineError>)
    /// A create that was `.waiting` is answered; `sealing` tells a create-and-seal from a plain create.
    func createAnswered(client: ClientID, ticket: UInt64, sealing: Bool, _ answer: Result<CreateOutcome, EngineError>)
    /// An event for one subscription.
    func deliver(_ event: ObjectEvent, to subscription: SubscriptionKey)
    /// Every event, once, while `StoreEngine.publishesEveryEvent` is set (whoever the subscriptions are).
    func published(_ event: ObjectEvent)
    /// An evicted object's bytes went to the spill sink.
    func spilled(_ id: ObjectID, bytes: Int)
    /// A spilled object came back into the arena.
    func restored(_ id: ObjectID, bytes: Int)
}

extension EngineObserver {
    /// Nothing to do by default.
    public func published(_ event: ObjectEvent) {}
    /// Nothing to do by default.
    public func spilled(_ id: ObjectID, bytes: Int) {}
    /// Nothing to do by default.
    public func restored(_ id: ObjectID, bytes: Int) {}
}
