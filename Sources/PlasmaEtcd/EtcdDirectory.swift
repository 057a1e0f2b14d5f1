#if Cluster
import Logging
import PlasmaClusterCore
import PlasmaCore
import Synchronization

/// The cluster directory on etcd: membership under a lease, wants and locations by demand
/// (docs/CLUSTER.md).
///
/// The store's calls only change local state and batch writes; ``flush()`` hands the batch to a writer
/// task that sends it in order. A supervisor task keeps the lease alive and, after losing etcd,
/// re-registers this node and its wants and locations; two watch tasks (wants, locations) turn etcd's
/// changes into ``ClusterEvent``s.
public final class EtcdDirectory: ClusterDirectory {
    /// This node, as registered.
    public let localNode: ClusterNode
    /// The settings it was made with.
    public let configuration: EtcdDirectoryConfiguration
    let client: EtcdClient
    let keys: DirectoryKeys
    let logger: Logger
    let state = Mutex(DirectoryState())
    let writes: AsyncStream<WriterCommand>.Continuation
    private let writeStream: AsyncStream<WriterCommand>
    let tasks = Mutex(DirectoryTasks())

    /// A directory; nothing is contacted before ``start()``.
    public init(configuration: EtcdDirectoryConfiguration) {
        self.configuration = configuration
        localNode = configuration.node
        // Requests fail well within a lease: a keepalive that hangs must not outlive it.
        let timeout = Duration.milliseconds(min(3000, max(500, configuration.leaseTTL * 1000 / 2)))
        client = EtcdClient(endpoints: configuration.endpoints, security: configuration.security, requestTimeout: timeout)
        keys = DirectoryKeys(prefix: configuration.endpoints.keyPrefix)
        logger = configuration.logger
        (writeStream, writes) = AsyncStream.makeStream(of: WriterCommand.self)
    }

    /// Sets where events go. Best before ``start()``; set later (the store is built after the directory
    /// started, so that it never serves without etcd), the handler first gets `.wanted` for every want of
    /// another node known by then: events reported while there was no handler are not kept, the state they
    /// changed is. (An event racing the call may then come twice.)
    public func setEventHandler(_ handler: @escaping @Sendable ([ClusterEvent]) -> Void) {
        let replay = state.withLock { state in
            state.handler = handler
            return state.remoteWants.sorted { ($0.id, $0.node) < ($1.id, $1.node) }.map { ClusterEvent.wanted($0.id, byNode: $0.node) }
        }
        if !replay.isEmpty { handler(replay) }
    }

    /// Publishes wants for `ids` at the next flush and reports their present and later locations.
    public func want(_ ids: [ObjectID]) {
        state.withLock { state in
            for id in ids where state.wants.insert(id).inserted {
                state.pending.wants[id] = true
                state.pending.lookups.insert(id)
            }
        }
    }

    /// Reads the present locations of the wanted ones of `ids` at the next flush and reports each as
    /// `.located`, also those reported before.
    public func relocate(_ ids: [ObjectID]) {
        state.withLock { state in
            for id in ids where state.wants.contains(id) && !state.pending.lookups.contains(id) {
                state.pending.relocations.insert(id)
            }
        }
    }

    /// Drops the wants for `ids` at the next flush; their locations are no longer reported.
    public func unwant(_ ids: [ObjectID]) {
        state.withLock { state in
            for id in ids where state.wants.remove(id) != nil {
                state.pending.wants[id] = false
                state.pending.lookups.remove(id)
                state.pending.relocations.remove(id)
                state.reported[id] = nil
            }
        }
    }

    /// Publishes these copies at the next flush; a refused one comes back as `.publishRefused`.
    public func publish(_ locations: [ClusterLocation]) {
        state.withLock { state in
            for location in locations where location.node == localNode.name {
                state.locations[location.id] = location
                state.pending.publishes[location.id] = location
                // A withdrawal batched before stays: the flush withdraws, then publishes. Dropping it
                // left the old record (other bytes) in `first/`, and the new one was refused against it.
                state.deferred.remove(location.id)
            }
        }
    }

    /// Withdraws this node's copies of `ids` at the next flush.
    public func unpublish(_ ids: [ObjectID]) {
        state.withLock { state in
            for id in ids {
                guard let location = state.locations.removeValue(forKey: id) else { continue }
                state.pending.publishes[id] = nil
                state.pending.unpublishes[id] = .some(location.checksum)
                state.deferred.remove(id)
            }
        }
    }

    /// Hands what was batched since the last flush to the writer; returns at once.
    public func flush() {
        let batch: PendingWrites? = state.withLock { state in
            guard !state.pending.isEmpty, !state.stopped else { return nil }
            defer { state.pending = PendingWrites() }
            // Disconnected: drop it; the reconnection puts this node's whole state back.
            return state.connected ? state.pending : nil
        }
        if let batch { writes.yield(.batch(batch)) }
    }

    /// The registered nodes, read from etcd now, by name.
    public func nodes() async throws -> [ClusterNode] {
        try await Self.nodes(client: client, keys: keys)
    }

    /// The registered nodes under `endpoints` (what `plasma cluster` lists), by name.
    public static func nodes(endpoints: EtcdEndpoints, security: EtcdSecurity = .none) async throws(EtcdError) -> [ClusterNode] {
        try await nodes(client: EtcdClient(endpoints: endpoints, security: security), keys: DirectoryKeys(prefix: endpoints.keyPrefix))
    }

    static func nodes(client: EtcdClient, keys: DirectoryKeys) async throws(EtcdError) -> [ClusterNode] {
        try await client.range(keys.nodes, prefix: true).keys.compactMap { DirectoryRecords.node(from: $0.value) }
            .sorted { $0.name < $1.name }
    }

    /// Hands `events` to the handler (never under the lock; nothing after stop).
    func emit(_ events: [ClusterEvent]) {
        guard !events.isEmpty else { return }
        let handler = state.withLock { $0.stopped ? nil : $0.handler }
        handler?(events)
    }

    /// Runs the writer: batches and re-registrations, one at a time, in order.
    func runWriter() async {
        for await command in writeStream {
            switch command {
            case .batch(let batch):
                guard state.withLock({ $0.connected && !$0.stopped }) else { continue }
                do {
                    try await write(batch)
                } catch {
                    troubleSeen("a write failed: \(error)", resync: true)
                }
            case .reregister(let lease, let done):
                guard !state.withLock({ $0.stopped }) else {
                    done.resume(returning: false)
                    continue
                }
                do {
                    try await reregister(lease: lease)
                    done.resume(returning: true)
                } catch {
                    logger.debug("re-registration failed: \(error)")
                    done.resume(returning: false)
                }
            }
        }
    }
}

/// What the writer task is asked to do.
enum WriterCommand: Sendable {
    /// Send a flushed batch.
    case batch(PendingWrites)
    /// Put this node's record, wants and locations under a new lease; report success.
    case reregister(lease: Int64, done: CheckedContinuation<Bool, Never>)
}

/// The directory's tasks, to cancel at stop or on losing etcd.
struct DirectoryTasks: Sendable {
    var writer: Task<Void, Never>?
    var supervisor: Task<Void, Never>?
    var watches: [Task<Void, Never>] = []
}
#endif
