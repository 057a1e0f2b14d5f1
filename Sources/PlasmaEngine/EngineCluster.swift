import PlasmaCore

/// What the engine keeps for a store that is part of a cluster (StoreEngine+Cluster.swift,
/// StoreEngine+Demand.swift). Nil in the engine of a store without one, so that a lone store pays a nil
/// check and fills nothing.
final class EngineCluster {
    /// The internal client that holds pinned objects (for peers pulling them, or being hashed) and the
    /// creator's reference of pulled copies until they are sealed or aborted.
    let holder: ClientID
    /// Objects pinned by `pin`, each counted once per pin (a pinned object may be pinned again).
    var pins = 0
    /// Ids with local demand (waited for by a get that may wait, absent here) as last reported.
    var demanded: Set<ObjectID> = []
    /// Ids the server asked to hear of when they leave the arena (published, or with a cached checksum).
    var tracked: Set<ObjectID> = []
    /// Tracked ids that left the arena (deleted, evicted, spilled, aborted) since the last take.
    var left: [ObjectID] = []
    /// Ids whose local seal the server wants to hear of (another node wants them).
    var sealWatched: Set<ObjectID> = []
    /// Watched ids sealed here since the last take.
    var sealed: [ObjectID] = []
    /// The node each pulled copy came from, while it is in the arena.
    var origins: [ObjectID: String] = [:]

    init(holder: ClientID) { self.holder = holder }
}
