/// A snapshot of the store's counters, as `stats` reports them.
///
/// Every field is an Int64 on the wire, in the order declared here; new fields are appended only.
public struct StoreStatistics: Sendable, Hashable {
    /// The `--memory` value: the most object bytes (data + metadata) the store holds.
    public var capacity: Int64 = 0
    /// Bytes of the shared arena (capacity rounded up to whole pages).
    public var arenaSize: Int64 = 0
    /// Requested bytes of all objects present: what counts against capacity.
    public var bytesInUse: Int64 = 0
    /// Arena bytes the allocator has handed out (requested bytes rounded to 64-byte blocks).
    public var arenaBytesAllocated: Int64 = 0
    public var createdObjects: Int64 = 0
    public var sealedObjects: Int64 = 0
    /// Sealed objects no client references: what eviction may take.
    public var evictableObjects: Int64 = 0
    public var evictableBytes: Int64 = 0
    public var evictedObjects: Int64 = 0
    public var evictedBytes: Int64 = 0
    public var deletedObjects: Int64 = 0
    public var clients: Int64 = 0
    /// Gets waiting for at least one object to be sealed.
    public var pendingGets: Int64 = 0
    /// Creates waiting for space.
    public var pendingCreates: Int64 = 0
    /// 1 - largest free block / free bytes of the arena's allocator.
    public var fragmentationPermille: Int64 = 0
    public var largestFreeBlock: Int64 = 0
    /// Subscriptions held by all clients.
    public var subscriptions: Int64 = 0
    /// Events handed to subscribers' queues, and events dropped from queues that overflowed.
    public var eventsQueued: Int64 = 0
    public var eventsDropped: Int64 = 0
    /// Objects (and their bytes) evicted to the external store (`--external-store`) and still there.
    public var spilledObjects: Int64 = 0
    public var spilledBytes: Int64 = 0
    /// Objects (and bytes) brought back from the external store by gets, since the store started.
    public var restoredObjects: Int64 = 0
    public var restoredBytes: Int64 = 0
    /// Evicted objects dropped because the external store couldn't take them (e.g. a full disk), and
    /// spilled objects lost because their bytes couldn't be read back (a missing or damaged spill file).
    public var spillFailures: Int64 = 0
    public var restoreFailures: Int64 = 0
    /// Connections refused by `--max-clients` or `--max-arrow-clients`, since the store started.
    public var connectionsRefused: Int64 = 0
    /// Arrow subscriptions dropped because `--arrow-notification-backlog` notifications were waiting.
    public var arrowSubscriptionsDropped: Int64 = 0
    /// The `--client-state-budget` limit, and the bytes of client-held state charged against it now.
    public var clientStateBudget: Int64 = 0
    public var clientStateUsed: Int64 = 0
    /// Charges refused (a request answered `limitReached`, a connection closed, events dropped) since the
    /// store started.
    public var clientStateRefusals: Int64 = 0
    /// `clientStateUsed` by kind: partial inbound frames, queued replies, waiting get ids, waiting
    /// creates, queued native events, queued Arrow notifications.
    public var clientStateInbound: Int64 = 0
    public var clientStateReplies: Int64 = 0
    public var clientStateWaitingGets: Int64 = 0
    public var clientStateWaitingCreates: Int64 = 0
    public var clientStateEvents: Int64 = 0
    public var clientStateArrowNotifications: Int64 = 0
    /// Zero-byte objects held, and the most the budget lets the store hold.
    public var emptyObjects: Int64 = 0
    public var emptyObjectsLimit: Int64 = 0

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
    ]
}
