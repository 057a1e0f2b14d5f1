import PlasmaCore

/// What the engine remembers per connection, so that a disconnect can undo all of it.
struct ClientRecord {
    let id: ClientID
    /// References held, per object (a client may hold several to one object).
    var references: [ObjectID: Int] = [:]
    /// Objects this client created and has not sealed or aborted.
    var unsealed: Set<ObjectID> = []
    /// Gets of this client waiting for seals, by request id.
    var waitingGets: Set<UInt64> = []
    /// Creates of this client waiting for space, by request id.
    var waitingCreates: Set<UInt64> = []
    /// This client's subscription ids.
    var subscriptions: Set<UInt64> = []
}
