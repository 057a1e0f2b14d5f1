#if Cluster
import PlasmaClusterCore
import PlasmaCore

/// Writes the store's calls batched since the last flush.
struct PendingWrites: Sendable {
    /// Want keys to put (true) or delete (false), by id; the last call wins.
    var wants: [ObjectID: Bool] = [:]
    /// Locations to publish (first location wins).
    var publishes: [ObjectID: ClusterLocation] = [:]
    /// Locations to withdraw, with the checksum they were published with (to drop `first/` if ours).
    var unpublishes: [ObjectID: UInt64?] = [:]
    /// New wants whose present locations are to be read.
    var lookups: Set<ObjectID> = []
    /// Wanted ids whose present locations are to be read and reported again, even those reported before.
    var relocations: Set<ObjectID> = []

    var isEmpty: Bool { wants.isEmpty && publishes.isEmpty && unpublishes.isEmpty && lookups.isEmpty && relocations.isEmpty }
}

/// Another node's want, as reported.
struct RemoteWant: Hashable, Sendable {
    var id: ObjectID
    var node: String
}

/// The directory's state, behind its lock. This node's wants and locations are the truth that a
/// reconnection puts back into etcd; the remote sides are what was reported, to report each change once.
struct DirectoryState: Sendable {
    var handler: (@Sendable ([ClusterEvent]) -> Void)?
    var lease: Int64 = 0
    var connected = false
    var stopped = false
    /// A write failed: the supervisor re-registers everything even if etcd answers its next keepalive.
    var needsResync = false
    var wants: Set<ObjectID> = []
    var locations: [ObjectID: ClusterLocation] = [:]
    var pending = PendingWrites()
    var remoteWants: Set<RemoteWant> = []
    /// How many of `remoteWants` each node has (at most the configuration's `maximumWantsPerNode`).
    var remoteWantCounts: [String: Int] = [:]
    /// Other nodes' wants ignored because their node had as many as allowed, since start.
    var wantsIgnored = 0
    /// Nodes over the limit whose ignored wants were logged, until they drop below it again.
    var nodesOverLimit: Set<String> = []
    /// For each wanted id, the nodes whose locations were reported (`.located`).
    var reported: [ObjectID: Set<String>] = [:]
    /// The etcd revision of the last watch message about locations applied to `reported`: a look-up read
    /// older than it may hold a location deleted since (EtcdDirectory.lookUp reads again).
    var locationsRevision: Int64 = 0
    /// Set on reconnecting: the next read of the locations reports every present one again (`.located`
    /// follows `.reconnected` for each want that has locations).
    var reannounceLocations = false
    /// Ids whose `first/` is this node's, created before this node had the checksum: publishing the
    /// checksum completes it in one transaction.
    var unhashedFirsts: Set<ObjectID> = []
    /// Ids whose publish is checking another node's `first/`, and whether a location of the id changed
    /// meanwhile (then a deferral retries at once: the change may be the checksum it waits for).
    var checkingFirst: [ObjectID: Bool] = [:]
    /// Ids whose location waits for the first publisher's checksum (its `first/` has none yet): published
    /// again when a location of the id changes (the first publisher adds its checksum to its location
    /// and `first/` in one transaction, or leaves), and at each keepalive in case a change was missed.
    var deferred: Set<ObjectID> = []
    /// Wakes the supervisor early (trouble seen by a writer or a watch).
    var supervisorNap: Task<Void, Never>?
}
#endif
