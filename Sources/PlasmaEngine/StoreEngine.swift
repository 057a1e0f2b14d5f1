import DequeModule
import HeapModule
import PlasmaCore

/// The object table and every rule about it: create → write → seal → get / release / delete, LRU
/// eviction, waits, spilling. It knows nothing of sockets, files or wire formats: each dialect's adapter
/// (in the server) turns its requests into these commands and the typed outcomes into its replies, and
/// what the engine produces later (a waiting get answered, an event) goes to the ``EngineObserver``.
///
/// Single-threaded by design: the event loop's thread owns it, so the hot path takes no locks.
public final class StoreEngine {
    /// Limits the engine enforces.
    public struct Configuration: Sendable {
        /// Most object bytes (data + metadata, as requested) held at once.
        public var capacity: Int
        /// Most gets one client may have waiting at once.
        public var maxWaitingGetsPerClient = 1 << 16
        /// Gets of more ids are looked up this many ids at a time, one slice per `advanceGetScans` call
        /// (StoreEngine+GetScan.swift), so that one get of 65,536 ids can't hold the loop for long; ended
        /// waits of more ids are unhooked from the waiter index as many at a time.
        public var getSliceIDs = 1_024
        /// Most creates one client may have waiting for space at once.
        public var maxWaitingCreatesPerClient = 1 << 10
        /// Most subscriptions one client may hold at once.
        public var maxSubscriptionsPerClient = 1 << 12
        /// Most bytes one client may pin (`--client-quota`, StoreEngine+Quota.swift); nil: no limit.
        public var clientQuota: Int?
        /// Most zero-byte objects held at once: they take no arena block, so capacity doesn't bound them
        /// (the server derives this from `--client-state-budget`); nil: no limit.
        public var maxEmptyObjects: Int?

        /// Default limits for a store of `capacity` bytes.
        public init(capacity: Int) { self.capacity = capacity }
    }

    /// The limits it was made with.
    public let configuration: Configuration
    /// Receives waiting answers, events, spills and restores; nil drops them (some tests).
    public weak var observer: EngineObserver?
    /// Prices waiting gets and creates per client (the server's client-state budget); nil admits all.
    public weak var waitMeter: WaitMeter?
    /// Adds what the engine doesn't hold to `statistics` (the server's own figures).
    public var statisticsAddendum: (inout StoreStatistics) -> Void = { _ in }

    let memory: UnsafeMutableRawBufferPointer
    let allocator: ArenaAllocator
    let clock: EngineClock
    var objects = ObjectTable()
    var clients: [ClientID: ClientRecord] = [:]
    var waitingGets: WaitTable
    /// Gets being looked up in slices, in turn (StoreEngine+GetScan.swift).
    var getScans = Deque<WaitKey>()
    var waitingCreates = CreateQueue()
    var subscriptions = SubscriptionIndex()
    var deadlines = Heap<Deadline>()
    private var nextClientID: UInt64 = 1
    var evictedObjects = 0
    var evictedBytes = 0
    var deletedObjects = 0
    var eventsQueued = 0
    /// The observer hears every event once (`EngineObserver.published`): set while the server has
    /// Arrow subscribers, who all hear everything, so that one event costs one call, not one per subscriber.
    public var publishesEveryEvent = false
    /// Granted quotas (StoreEngine+GrantedQuota.swift).
    var quotas = GrantedQuotas()
    /// What is in the spill sink (StoreEngine+External.swift); nil: eviction drops objects.
    var external: ExternalSpill?
    /// Demand, pins and pulled copies for a cluster (StoreEngine+Cluster.swift); nil for a lone store.
    var cluster: EngineCluster?

    /// - Parameters:
    ///   - memory: the arena as the store maps it; the engine copies inline objects into it and never
    ///     reads it (clients may scribble on it).
    ///   - allocator: hands out blocks of `memory`.
    ///   - spillSink: where evicted objects go instead of being dropped; nil: they are dropped.
    public init(
        configuration: Configuration, memory: UnsafeMutableRawBufferPointer, allocator: ArenaAllocator,
        clock: EngineClock, spillSink: SpillSink? = nil
    ) {
        // The allocators work in 64-byte blocks: an object of exactly the capacity must fit.
        precondition(configuration.capacity >= 0 && (configuration.capacity + 63) / 64 * 64 <= memory.count)
        self.configuration = configuration
        self.waitingGets = WaitTable(unhookAtOnce: configuration.getSliceIDs)
        self.memory = memory
        self.allocator = allocator
        self.clock = clock
        self.external = spillSink.map(ExternalSpill.init(sink:))
    }

    /// Most object bytes held at once.
    public var capacity: Int { configuration.capacity }

    // MARK: Clients

    /// A new client, known until `disconnect`.
    public func connect(references: ReferencePolicy = .counted) -> ClientID {
        let id = ClientID(rawValue: nextClientID)
        nextClientID += 1
        clients[id] = ClientRecord(id: id, references: references)
        return id
    }

    /// Changes how many references the client takes per object from now on (a connection whose
    /// dialect became known after it connected).
    public func setReferencePolicy(_ policy: ReferencePolicy, for client: ClientID) {
        clients[client]?.referencePolicy = policy
    }

    /// Undoes everything the client left behind: its unsealed objects are aborted, its references
    /// released, its waits dropped. Then waiting creates get a chance at the space that freed.
    public func disconnect(_ client: ClientID) {
        guard let record = clients.removeValue(forKey: client) else { return }
        quotas.clientLeft(client)
        for subscriptionID in record.subscriptions { subscriptions.remove(SubscriptionKey(client: client, subscriptionID: subscriptionID)) }
        for requestID in record.waitingGets {
            if let wait = waitingGets.remove(WaitKey(client: client, requestID: requestID)) { waitEnded(wait) }
        }
        for requestID in record.waitingCreates {
            if let cancelled = waitingCreates.cancel(WaitKey(client: client, requestID: requestID)) {
                waitMeter?.release(cancelled.cost, for: client)
            }
        }
        for id in record.unsealed {
            guard let slot = objects.slot(of: id) else { continue }
            objects[slot].referenceCount -= record.references[id] ?? 0
            removeObject(at: slot, .aborted)
        }
        for (id, count) in record.references where !record.unsealed.contains(id) {
            guard let slot = objects.slot(of: id) else { continue }
            dropReferences(count, at: slot)
        }
        serveWaitingCreates()
    }

    /// Clients connected now.
    public var clientCount: Int { clients.count }

    /// Connected and not yet disconnected.
    public func isConnected(_ client: ClientID) -> Bool { clients[client] != nil }

    // MARK: Time

    /// When the engine next needs `fireDeadlines`, in monotonic nanoseconds.
    public var nextDeadline: UInt64? { deadlines.min?.nanoseconds }

    /// Answers every waiting get or create whose timeout has passed.
    public func fireDeadlines() {
        let now = clock.monotonicNanoseconds()
        while let deadline = deadlines.min, deadline.nanoseconds <= now {
            deadlines.removeMin()
            switch deadline.kind {
            // FIX (unit tests): skip entries left behind by waits that were answered before their
            // deadline; the request id may since belong to a new wait with a later (or no) deadline.
            case .get where waitingGets.deadline(of: deadline.key) == deadline.nanoseconds:
                finishWaitingGet(deadline.key)
            case .create where waitingCreates.deadline(of: deadline.key) == deadline.nanoseconds:
                expireWaitingCreate(deadline.key)
            case .get, .create:
                continue
            }
        }
    }

    /// Returns the deadline set, nil for none; the wait must remember it (see `fireDeadlines`).
    @discardableResult
    func addDeadline(after milliseconds: Int64, kind: Deadline.Kind, key: WaitKey) -> UInt64? {
        guard milliseconds > 0 else { return nil }  // -1: forever
        // A timeout too long to represent is as good as forever.
        let (delay, overflow) = UInt64(milliseconds).multipliedReportingOverflow(by: 1_000_000)
        let (nanoseconds, late) = clock.monotonicNanoseconds().addingReportingOverflow(delay)
        guard !overflow, !late else { return nil }
        dropStaleDeadlinesIfMany()
        deadlines.insert(Deadline(nanoseconds: nanoseconds, kind: kind, key: key))
        return nanoseconds
    }

    // MARK: Introspection

    /// The store's figures; the server adds its own through `statisticsAddendum`.
    public var statistics: StoreStatistics {
        var statistics = StoreStatistics()
        let allocation = allocator.statistics
        statistics.capacity = Int64(capacity)
        statistics.arenaSize = Int64(memory.count)
        statistics.bytesInUse = Int64(objects.bytesInUse)
        statistics.arenaBytesAllocated = Int64(allocation.size - allocation.freeBytes)
        statistics.createdObjects = Int64(objects.createdCount)
        statistics.sealedObjects = Int64(objects.sealedCount)
        statistics.evictableObjects = Int64(objects.evictableCount)
        statistics.evictableBytes = Int64(objects.evictableBytes)
        statistics.evictedObjects = Int64(evictedObjects)
        statistics.evictedBytes = Int64(evictedBytes)
        statistics.deletedObjects = Int64(deletedObjects)
        statistics.clients = Int64(clients.count - (cluster == nil ? 0 : 1))  // not the cluster's holder
        statistics.pendingGets = Int64(waitingGets.count)
        statistics.pendingCreates = Int64(waitingCreates.count)
        statistics.fragmentationPermille = Int64((allocation.fragmentation * 1000).rounded())
        statistics.largestFreeBlock = Int64(allocation.largestFreeBlock)
        statistics.subscriptions = Int64(subscriptions.count)
        statistics.eventsQueued = Int64(eventsQueued)
        if let external { external.fill(&statistics) }
        statistics.emptyObjects = Int64(objects.emptyCount)
        statisticsAddendum(&statistics)
        return statistics
    }

    /// Heap bytes one object's slot in the table's slab takes (a budget prices zero-byte objects by it).
    public static var objectSlotBytes: Int { MemoryLayout<ObjectRecord?>.stride }

    /// Objects in the table now (spilled ones not counted).
    public var objectCount: Int { objects.count }

    /// Checks the engine's books against each other; for tests.
    public func checkInvariants() -> Bool {
        var references = [ObjectID: Int]()
        for client in clients.values {
            for (id, count) in client.references where count > 0 { references[id, default: 0] += count }
        }
        var bytes = 0
        for record in objects.records {
            bytes += record.totalSize
            guard record.referenceCount == (references[record.id] ?? 0) else { return false }
            let shouldBeEvictable = record.state == .sealed && record.referenceCount == 0 && !record.deletePending
                && !isLeaving(record.id)
            guard record.isEvictable == shouldBeEvictable else { return false }
        }
        return bytes == objects.bytesInUse && bytes <= capacity && pinnedBytesAreExact() && allocator.checkInvariants()
    }
}
