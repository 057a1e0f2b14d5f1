import PlasmaCore

/// The cluster's shared directory (etcd): membership, wants and locations.
///
/// The store calls it from its event-loop thread; every call returns at once, and writes are batched
/// (the store calls ``flush()`` once per loop pass). Events come back through the handler, in batches, on
/// the directory's own thread: the store hops them to its loop.
public protocol ClusterDirectory: AnyObject, Sendable {
    /// This node, as registered.
    var localNode: ClusterNode { get }
    /// Sets where events go. Call before ``start()``.
    func setEventHandler(_ handler: @escaping @Sendable ([ClusterEvent]) -> Void)
    /// Grants the lease, registers the node, keeps the lease alive and starts the watches. Throws when
    /// etcd can't be reached at start (the store then refuses to start: a cluster flag was given).
    func start() async throws
    /// Revokes the lease (this node's registration, wants and locations vanish at once) and stops.
    func stop() async
    /// This node has gets waiting on `ids` (none held here): publish wants and report their locations.
    func want(_ ids: [ObjectID])
    /// Reports the present locations of `ids` again (`.located`, those reported before included), for
    /// the ids this node still wants: the store retries a location whose pull failed (a listener not yet
    /// up, a peer that refused once) while a get waits, as the directory reports each location once.
    func relocate(_ ids: [ObjectID])
    /// This node no longer waits on `ids`: drop the wants.
    func unwant(_ ids: [ObjectID])
    /// This node holds sealed copies: publish them, first location wins per id.
    func publish(_ locations: [ClusterLocation])
    /// This node's copies of `ids` are gone (deleted, evicted).
    func unpublish(_ ids: [ObjectID])
    /// Sends what the calls since the last flush batched (one etcd transaction where it can).
    func flush()
    /// The registered nodes, read from etcd now.
    func nodes() async throws -> [ClusterNode]
}
