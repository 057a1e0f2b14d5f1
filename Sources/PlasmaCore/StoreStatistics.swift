/// A snapshot of the store's counters, as `stats` reports them.
///
/// Every field is an Int64 on the wire, in the order declared here; new fields are appended only.
///
/// Two kinds of field: gauges say how things are now (they go up and down: `bytesInUse`, `clients`);
/// running totals count since the store started and only grow (`evictedObjects`, `eventsDropped`).
/// Each field's comment says which it is.
public struct StoreStatistics: Sendable, Hashable {
    /// The `--memory` value: the most object bytes (data + metadata) the store holds. Fixed at start.
    public var capacity: Int64 = 0
    /// Bytes of the shared arena (capacity rounded up to whole pages). Fixed at start.
    public var arenaSize: Int64 = 0
    /// Gauge: requested bytes of all objects present: what counts against capacity.
    public var bytesInUse: Int64 = 0
    /// Gauge: arena bytes the allocator has handed out (requested bytes rounded to 64-byte blocks).
    public var arenaBytesAllocated: Int64 = 0
    /// Gauge: objects created and not yet sealed (being written).
    public var createdObjects: Int64 = 0
    /// Gauge: sealed objects present in the arena.
    public var sealedObjects: Int64 = 0
    /// Gauge: sealed objects no client references: what eviction may take.
    public var evictableObjects: Int64 = 0
    /// Gauge: bytes (data + metadata) of the evictable objects.
    public var evictableBytes: Int64 = 0
    /// Running total: objects evicted to make room or by an explicit evict.
    public var evictedObjects: Int64 = 0
    /// Running total: bytes (data + metadata) of the evicted objects.
    public var evictedBytes: Int64 = 0
    /// Running total: objects removed by delete, counted when they actually go (a deferred delete at
    /// its last release).
    public var deletedObjects: Int64 = 0
    /// Gauge: connected clients, native and Arrow.
    public var clients: Int64 = 0
    /// Gauge: gets waiting for at least one object to be sealed.
    public var pendingGets: Int64 = 0
    /// Gauge: creates waiting for space.
    public var pendingCreates: Int64 = 0
    /// Gauge: 1 - largest free block / free bytes of the arena's allocator, in thousandths: 0 when the
    /// free space is one block, near 1000 when it is scattered in small pieces.
    public var fragmentationPermille: Int64 = 0
    /// Gauge: bytes of the largest free block in the arena: the largest object a create can get
    /// without evicting.
    public var largestFreeBlock: Int64 = 0
    /// Gauge: subscriptions held by all clients.
    public var subscriptions: Int64 = 0
    /// Running total: events handed to subscribers' queues.
    public var eventsQueued: Int64 = 0
    /// Running total: events dropped from queues that overflowed (each drop announced to its subscriber
    /// by an overflow event).
    public var eventsDropped: Int64 = 0
    /// Gauge: objects evicted to the external store (`--external-store`) and still there.
    public var spilledObjects: Int64 = 0
    /// Gauge: bytes (data + metadata) of the spilled objects.
    public var spilledBytes: Int64 = 0
    /// Running total: objects brought back from the external store by gets.
    public var restoredObjects: Int64 = 0
    /// Running total: bytes (data + metadata) of the restored objects.
    public var restoredBytes: Int64 = 0
    /// Running total: evicted objects dropped because the external store couldn't take them (e.g. a full
    /// disk).
    public var spillFailures: Int64 = 0
    /// Running total: spilled objects lost because their bytes couldn't be read back (a missing or
    /// damaged spill file).
    public var restoreFailures: Int64 = 0
    /// Connections refused by `--max-clients` or `--max-arrow-clients`, since the store started.
    public var connectionsRefused: Int64 = 0
    /// Arrow subscriptions dropped because `--arrow-notification-backlog` notifications were waiting.
    public var arrowSubscriptionsDropped: Int64 = 0
    /// The `--client-state-budget` limit in bytes (fixed at start).
    public var clientStateBudget: Int64 = 0
    /// Bytes of client-held state charged against the budget now (a gauge).
    public var clientStateUsed: Int64 = 0
    /// Charges refused (a request answered `limitReached`, a connection closed, events dropped) since the
    /// store started.
    public var clientStateRefusals: Int64 = 0
    /// Part of `clientStateUsed` (gauges, bytes, by kind): partial inbound frames held until they are whole.
    public var clientStateInbound: Int64 = 0
    /// Part of `clientStateUsed`: replies queued for clients that haven't read them yet.
    public var clientStateReplies: Int64 = 0
    /// Part of `clientStateUsed`: ids that waiting gets wait for.
    public var clientStateWaitingGets: Int64 = 0
    /// Part of `clientStateUsed`: creates waiting for space, with their inline bytes.
    public var clientStateWaitingCreates: Int64 = 0
    /// Part of `clientStateUsed`: native subscription events queued for clients.
    public var clientStateEvents: Int64 = 0
    /// Part of `clientStateUsed`: notifications queued for Arrow subscribers.
    public var clientStateArrowNotifications: Int64 = 0
    /// Zero-byte objects held now (a gauge): they take no arena space, so the budget bounds them.
    public var emptyObjects: Int64 = 0
    /// The most zero-byte objects the budget lets the store hold (fixed at start).
    public var emptyObjectsLimit: Int64 = 0
    /// Gauge: bytes of the arena populated so far (its pages faulted in, which the store does in the
    /// background after it starts answering); `arenaSize` once done, 0 with `--no-prefault`.
    public var arenaPopulatedBytes: Int64 = 0
    /// Running total: passes of the store's event loop that took over 1 ms of wall-clock time (one thread
    /// serves every client, so a request arriving during a pass waits for its end).
    public var loopPassesOver1ms: Int64 = 0
    /// Running total: loop passes over 5 ms.
    public var loopPassesOver5ms: Int64 = 0
    /// Running total: loop passes over 20 ms.
    public var loopPassesOver20ms: Int64 = 0
    /// Running maximum: the longest loop pass since the store started, in microseconds of wall-clock time.
    public var loopPassLongestMicroseconds: Int64 = 0
    /// Running maximum: the most work one loop pass did since the store started, in the store's work
    /// units (about a microsecond of its loop thread each; a pass's budget is 1,024 of them, which it
    /// exceeds by at most one request): unlike durations, this doesn't grow with the machine's load.
    public var loopPassMostWorkUnits: Int64 = 0
    /// Running total: pulls of objects from other nodes begun (docs/CLUSTER.md); 0 without a cluster.
    public var clusterPullsStarted: Int64 = 0
    /// Running total: pulls whose copy was sealed here.
    public var clusterPullsSucceeded: Int64 = 0
    /// Running total: pulls that failed (connection, authentication, not held, checksum), their partial
    /// copies aborted.
    public var clusterPullsFailed: Int64 = 0
    /// Running total: bytes (data + metadata) of the copies sealed from pulls.
    public var clusterPulledBytes: Int64 = 0
    /// Running total: wants this node published (a local get waiting on an id absent here).
    public var clusterWantsPublished: Int64 = 0
    /// Running total: locations this node published for ids other nodes wanted.
    public var clusterLocationsPublished: Int64 = 0
    /// Running total: this node's locations refused (another node published the id first, other bytes).
    public var clusterPublishesRefused: Int64 = 0
    /// Gauge: objects the cluster holds pinned now (for peers pulling them, or being hashed).
    public var clusterPinnedObjects: Int64 = 0
    /// Running total: transfer connections refused because the peer couldn't prove it knows the cluster
    /// token (docs/SECURITY.md), each also a rate-limited warning in the log.
    public var clusterPeersRefused: Int64 = 0
    /// Running total: copies of small objects sealed from the bytes their location carried (no pull;
    /// docs/CLUSTER.md, "Small objects travel with their location").
    public var clusterInlineCopies: Int64 = 0
    /// Running total: locations whose carried bytes failed their MAC or checksum (pulled instead), each
    /// also a rate-limited warning.
    public var clusterInlineCopiesRefused: Int64 = 0
    /// Running total: transfer connections closed for want of a place (every serving place taken, their
    /// address's or their node's share taken, or evicted from the handshake by a newcomer;
    /// docs/SECURITY.md), each also a rate-limited warning.
    public var clusterTransferConnectionsRefused: Int64 = 0

    /// Every field zero, for the store and the decoder to fill in.
    public init() {}

    /// The fields in wire order; one place so that encoder and decoder can't drift.
    public var fieldValues: [Int64] {
        [
            capacity, arenaSize, bytesInUse, arenaBytesAllocated, createdObjects, sealedObjects,
            evictableObjects, evictableBytes, evictedObjects, evictedBytes, deletedObjects, clients,
            pendingGets, pendingCreates, fragmentationPermille, largestFreeBlock,
            subscriptions, eventsQueued, eventsDropped,
            spilledObjects, spilledBytes, restoredObjects, restoredBytes,
            spillFailures, restoreFailures,
            connectionsRefused, arrowSubscriptionsDropped,
            clientStateBudget, clientStateUsed, clientStateRefusals,
            clientStateInbound, clientStateReplies, clientStateWaitingGets, clientStateWaitingCreates,
            clientStateEvents, clientStateArrowNotifications, emptyObjects, emptyObjectsLimit,
            arenaPopulatedBytes,
            loopPassesOver1ms, loopPassesOver5ms, loopPassesOver20ms, loopPassLongestMicroseconds,
            loopPassMostWorkUnits,
            clusterPullsStarted, clusterPullsSucceeded, clusterPullsFailed, clusterPulledBytes,
            clusterWantsPublished, clusterLocationsPublished, clusterPublishesRefused, clusterPinnedObjects, clusterPeersRefused,
            clusterInlineCopies, clusterInlineCopiesRefused, clusterTransferConnectionsRefused,
        ]
    }

    /// Rebuilds from wire order; missing trailing fields stay 0, extra ones (a newer store) are ignored.
    public init(fieldValues values: [Int64]) {
        func value(_ index: Int) -> Int64 { index < values.count ? values[index] : 0 }
        (capacity, arenaSize, bytesInUse, arenaBytesAllocated) = (value(0), value(1), value(2), value(3))
        (createdObjects, sealedObjects, evictableObjects, evictableBytes) = (value(4), value(5), value(6), value(7))
        (evictedObjects, evictedBytes, deletedObjects, clients) = (value(8), value(9), value(10), value(11))
        (pendingGets, pendingCreates) = (value(12), value(13))
        (fragmentationPermille, largestFreeBlock) = (value(14), value(15))
        (subscriptions, eventsQueued, eventsDropped) = (value(16), value(17), value(18))
        (spilledObjects, spilledBytes, restoredObjects, restoredBytes) = (value(19), value(20), value(21), value(22))
        (spillFailures, restoreFailures) = (value(23), value(24))
        (connectionsRefused, arrowSubscriptionsDropped) = (value(25), value(26))
        (clientStateBudget, clientStateUsed, clientStateRefusals) = (value(27), value(28), value(29))
        (clientStateInbound, clientStateReplies, clientStateWaitingGets) = (value(30), value(31), value(32))
        (clientStateWaitingCreates, clientStateEvents, clientStateArrowNotifications) = (value(33), value(34), value(35))
        (emptyObjects, emptyObjectsLimit) = (value(36), value(37))
        arenaPopulatedBytes = value(38)
        (loopPassesOver1ms, loopPassesOver5ms, loopPassesOver20ms) = (value(39), value(40), value(41))
        (loopPassLongestMicroseconds, loopPassMostWorkUnits) = (value(42), value(43))
        (clusterPullsStarted, clusterPullsSucceeded, clusterPullsFailed, clusterPulledBytes) = (value(44), value(45), value(46), value(47))
        (clusterWantsPublished, clusterLocationsPublished) = (value(48), value(49))
        (clusterPublishesRefused, clusterPinnedObjects, clusterPeersRefused) = (value(50), value(51), value(52))
        (clusterInlineCopies, clusterInlineCopiesRefused) = (value(53), value(54))
        clusterTransferConnectionsRefused = value(55)
    }

    /// Names for `fieldValues`, in order, for tables and JSON.
    public static let fieldNames: [String] = [
        "capacity", "arena_size", "bytes_in_use", "arena_bytes_allocated", "created_objects", "sealed_objects",
        "evictable_objects", "evictable_bytes", "evicted_objects", "evicted_bytes", "deleted_objects", "clients",
        "pending_gets", "pending_creates", "fragmentation_permille", "largest_free_block",
        "subscriptions", "events_queued", "events_dropped",
        "spilled_objects", "spilled_bytes", "restored_objects", "restored_bytes",
        "spill_failures", "restore_failures",
        "connections_refused", "arrow_subscriptions_dropped",
        "client_state_budget", "client_state_used", "client_state_refusals",
        "client_state_inbound", "client_state_replies", "client_state_waiting_gets", "client_state_waiting_creates",
        "client_state_events", "client_state_arrow_notifications", "empty_objects", "empty_objects_limit",
        "arena_populated_bytes",
        "loop_passes_over_1ms", "loop_passes_over_5ms", "loop_passes_over_20ms", "loop_pass_longest_us",
        "loop_pass_most_work_units",
        "cluster_pulls_started", "cluster_pulls_succeeded", "cluster_pulls_failed", "cluster_pulled_bytes",
        "cluster_wants_published", "cluster_locations_published", "cluster_publishes_refused", "cluster_pinned_objects",
        "cluster_peers_refused", "cluster_inline_copies", "cluster_inline_copies_refused",
        "cluster_transfer_connections_refused",
    ]
}
