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
    var unpublishes: [ObjectID: UInt64] = [:]
    /// New wants whose present locations are to be read.
    var lookups: Set<ObjectID> = []

    var isEmpty: Bool { wants.isEmpty && publishes.isEmpty && unpublishes.isEmpty && lookups.isEmpty }
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
    /// For each wanted id, the nodes whose locations were reported (`.located`).
    var reported: [ObjectID: Set<String>] = [:]
    /// Set on reconnecting: the next read of the locations reports every present one again (`.located`
    /// follows `.reconnected` for each want that has locations).
    var reannounceLocations = false
    /// Wakes the supervisor early (trouble seen by a writer or a watch).
    var supervisorNap: Task<Void, Never>?
}
#endif
