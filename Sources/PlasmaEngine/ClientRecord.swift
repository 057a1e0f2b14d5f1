import PlasmaCore

/// What the engine remembers per connection, so that a disconnect can undo all of it.
///
/// References and unsealed objects change only through the methods below, which keep `pinnedBytes`
/// exact: the bytes of every object this client keeps unevictable (`--client-quota` limits them).
struct ClientRecord {
    let id: ClientID
    /// References held, per object (a client may hold several to one object).
    private(set) var references: [ObjectID: Int] = [:]
    /// Objects this client created and has not sealed or aborted.
    private(set) var unsealed: Set<ObjectID> = []
    /// Total size of the objects that are unsealed by this client or referenced by it, each counted
    /// once however many references the client holds.
    private(set) var pinnedBytes = 0
    /// Gets of this client waiting for seals, by request id.
    var waitingGets: Set<UInt64> = []
    /// How many of `waitingGets` are still being looked up in slices (StoreEngine+GetScan.swift).
    var scanningGets = 0
    /// Creates of this client waiting for space, by request id.
    var waitingCreates: Set<UInt64> = []
    /// This client's subscription ids.
    var subscriptions: Set<UInt64> = []

    /// How many references a get takes per object.
    var referencePolicy: ReferencePolicy

    init(id: ClientID, references: ReferencePolicy) {
        self.id = id
        self.referencePolicy = references
    }

    func pins(_ id: ObjectID) -> Bool { references[id] != nil || unsealed.contains(id) }

    /// A create by this client: unsealed, with the creator's reference.
    mutating func created(_ id: ObjectID, size: Int) {
        if !pins(id) { pinnedBytes += size }
        unsealed.insert(id)
        references[id, default: 0] += 1
    }

    mutating func sealed(_ id: ObjectID, size: Int) {
        // Its creator may have released its own reference before sealing.
        if unsealed.remove(id) != nil, references[id] == nil { pinnedBytes -= size }
    }

    /// Forgets the object; returns how many references the client held on it.
    mutating func aborted(_ id: ObjectID, size: Int) -> Int {
        if pins(id) { pinnedBytes -= size }
        unsealed.remove(id)
        return references.removeValue(forKey: id) ?? 0
    }

    mutating func addReferences(_ count: Int, to id: ObjectID, size: Int) {
        let held = references[id] ?? 0
        if held == 0, !unsealed.contains(id) { pinnedBytes += size }
        references[id] = held + count
    }

    /// The caller checked that at least `count` are held.
    mutating func dropReferences(_ count: Int, to id: ObjectID, size: Int) {
        let held = references[id]!
        guard held == count else { references[id] = held - count; return }
        references[id] = nil
        if !unsealed.contains(id) { pinnedBytes -= size }
    }
}
