import PlasmaClusterCore

/// What makes a store one node of a cluster (docs/CLUSTER.md): the directory (etcd) that carries wants
/// and locations, the puller that copies objects from peers, and how this node is named and reached.
/// Given to ``StoreServer/init(configuration:logger:cluster:)``; without one the store is what it always
/// was, and nothing of the cluster runs.
///
/// The caller owns the directory's life: `start()` it before ``StoreServer/run(handleSignals:)``, `stop()`
/// it after, and stop the transfer plane (puller and listener) before the server is released, since
/// pulls under way write into its arena.
public struct ClusterAttachment: Sendable {
    /// Wants, locations and membership.
    public var directory: ClusterDirectory
    /// Copies objects from peers' transfer listeners into this store's arena.
    public var puller: ObjectPuller
    /// This node's `--node-name`, as its locations name it.
    public var nodeName: String
    /// Where this node's transfer listener serves (`host:port`), as its locations say.
    public var transferAddress: String
    /// Transfer connections refused so far for a wrong token proof (the listener's count), for `stats`.
    public var peersRefused: @Sendable () -> Int = { 0 }
    /// Transfer connections closed so far for want of a place (the listener's count), for `stats`.
    public var transferConnectionsRefused: @Sendable () -> Int = { 0 }
    /// Signs and checks small objects carried in their locations (``InlineCopy``); nil: this node's
    /// locations carry none, and the bytes in peers' are not used (every copy is pulled).
    public var inlineCopies: (any InlineCopyAuthenticator)?
    /// Objects up to this size (data + metadata) travel in their location when ``inlineCopies`` is set
    /// (`--cluster-inline-max`); 0: none.
    public var inlineCopyMaximumBytes = 1024

    /// An attachment; the name and address default to the directory's registered node.
    public init(directory: ClusterDirectory, puller: ObjectPuller, nodeName: String? = nil, transferAddress: String? = nil) {
        self.directory = directory
        self.puller = puller
        self.nodeName = nodeName ?? directory.localNode.name
        self.transferAddress = transferAddress ?? directory.localNode.transferAddress
    }
}
