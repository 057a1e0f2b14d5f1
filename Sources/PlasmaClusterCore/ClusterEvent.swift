import PlasmaCore

/// What the directory tells its store, in batches, on a thread of its own.
public enum ClusterEvent: Sendable, Equatable {
    /// Another node has a get waiting on `id`: publish a location if this node holds (or later seals) it.
    case wanted(ObjectID, byNode: String)
    /// That node no longer waits on `id` (its get ended, it pulled a copy, or its lease expired).
    case unwanted(ObjectID, byNode: String)
    /// A copy of an id this node wants is at `location` (reported for present and later locations,
    /// until the id is unwanted).
    case located(ClusterLocation)
    /// A location reported before is gone: its node unpublished it or its lease expired. A pull from
    /// it that is under way fails on its own; don't start another from it.
    case locationGone(ObjectID, node: String)
    /// This node's location for `id` was refused: another node published the id first with other bytes.
    case publishRefused(ObjectID, firstNode: String)
    /// The directory lost etcd: wants and locations it reports may be stale until `.reconnected`.
    case disconnected
    /// The directory reached etcd again, re-registered this node under a new lease and re-published
    /// this node's wants and locations; `.located` events follow for the wants that have locations.
    case reconnected
}
