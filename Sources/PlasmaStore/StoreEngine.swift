import HeapModule
import PlasmaCore
import PlasmaWire

/// The object table and every rule about it: create → write → seal → get / release / delete, LRU
/// eviction, waits. It knows nothing of sockets or dialects: it takes requests for a client and emits
/// replies through `replySink`, so that it can be tested alone and both dialects share its semantics.
///
/// Single-threaded by design: the event loop's thread owns it, so the hot path takes no locks.
public final class StoreEngine {
    public struct Configuration: Sendable {
        /// Most object bytes (data + metadata, as requested) held at once.
        public var capacity: Int
        /// Most gets one client may have waiting at once.
        public var maxWaitingGetsPerClient = 1 << 16
        /// Most creates one client may have waiting for space at once.
        public var maxWaitingCreatesPerClient = 1 << 10
        /// Most subscriptions one client may hold at once.
        public var maxSubscriptionsPerClient = 1 << 12
        /// Most bytes one native client may pin (`--client-quota`, StoreEngine+Quota.swift); nil: no limit.
        public var clientQuota: Int?
        /// Most zero-byte objects held at once: they take no arena block, so capacity doesn't bound them
        /// (the server derives this from `--client-state-budget`); nil: no limit.
        public var maxEmptyObjects: Int?

        public init(capacity: Int) { self.capacity = capacity }
    }

    /// Receives every reply: to whom, for which request, of which request type.
    public typealias ReplySink = (_ client: ClientID, _ requestID: UInt64, _ type: MessageType, _ reply: Reply) -> Void

    public let configuration: Configuration
    public var replySink: ReplySink = { _, _, _, _ in }
    /// Receives every event for a subscription.
    public var eventSink: (_ subscription: SubscriptionKey, _ event: ObjectEvent) -> Void = { _, _ in }
    /// Prices waiting gets and creates per client (the server's client-state budget); nil admits all.
    public weak var waitMeter: WaitMeter?
    /// Adds what the engine doesn't hold to `statistics` (the server's budget figures).
    public var statisticsAddendum: (inout StoreStatistics) -> Void = { _ in }

    let memory: UnsafeMutableRawBufferPointer
    let allocator: Allocator
    let clock: EngineClock
    var objects = ObjectTable()
    var clients: [ClientID: ClientRecord] = [:]
    var waitingGets = WaitTable()
    var waitingCreates = CreateQueue()
    var subscriptions = SubscriptionIndex()
    var deadlines = Heap<Deadline>()
    private var nextClientID: UInt64 = 1
    var evictedObjects = 0
    var evictedBytes = 0
    var deletedObjects = 0
    var eventsQueued = 0
    /// Counted by the server, which owns the queues that drop.
    public var droppedEvents = 0
    /// Connections refused by a client limit, and Arrow subscriptions dropped for a full backlog: the
    /// server counts them here so that `stats` reports them (StoreServer+DialectLimits.swift, +Arrow).
    public var refusedConnections = 0
    public var droppedArrowSubscriptions = 0
    /// Arrow-dialect clients and their quotas (StoreEngine+Arrow.swift).
    var arrow = ArrowEngineState()
    /// Where evicted objects go instead of being dropped (`--external-store`), with what is there now
    /// (StoreEngine+External.swift); nil: eviction drops objects.
    var external: ExternalSpill?

    /// - Parameter memory: the arena as the store maps it; the engine copies inline objects into it and
    ///   never reads it (clients may scribble on it).
    public init(configuration: Configuration, memory: UnsafeMutableRawBufferPointer, clock: EngineClock = .system) {
        // The allocator works in 64-byte blocks: an object of exactly the capacity must fit.
        precondition(configuration.capacity >= 0 && (configuration.capacity + 63) / 64 * 64 <= memory.count)
        self.configuration = configuration
        self.memory = memory
        self.allocator = Allocator(size: memory.count)
        self.clock = clock
    }

    public var capacity: Int { configuration.capacity }

    // MARK: Clients

    public func connect() -> ClientID {
        let id = ClientID(rawValue: nextClientID)
        nextClientID += 1
        clients[id] = ClientRecord(id: id)
        return id
    }

    /// Undoes everything the client left behind: its unsealed objects are aborted, its references
    /// released, its waits dropped. Then waiting creates get a chance at the space that freed.
    public func disconnect(_ client: ClientID) {
        guard let record = clients.removeValue(forKey: client) else { return }
        arrowClientLeft(client)  // gives its quota back (StoreEngine+Arrow.swift)
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

    public var clientCount: Int { clients.count }

    // MARK: Requests

    public func handle(_ request: Request, requestID: UInt64, from client: ClientID) {
        guard clients[client] != nil else { return }
        let type = request.messageType
        switch request {
        case .connect:
            reply(client, requestID, type, .connected(capacity: capacity, arenaSize: memory.count, clientID: client.rawValue))
        case .create(let id, let dataSize, let metadataSize, let timeout):
            create(id: id, dataSize: dataSize, metadataSize: metadataSize, inline: nil,
                   timeout: timeout, key: WaitKey(client: client, requestID: requestID), type: type)
        case .createAndSeal(let object, let timeout):
            create(id: object.id, dataSize: object.data.count, metadataSize: object.metadata.count, inline: object,
                   timeout: timeout, key: WaitKey(client: client, requestID: requestID), type: type)
        case .createAndSealBatch(let objects):
            let statuses = objects.map { createAndSealNow($0, client: client) }
            reply(client, requestID, type, .statuses(statuses))
        case .seal(let id):
            reply(client, requestID, type, seal(id, by: client))
        case .abort(let id):
            reply(client, requestID, type, abort(id, by: client))
        case .get(let ids, let timeout):
            get(ids, timeout: timeout, key: WaitKey(client: client, requestID: requestID))
        case .release(let ids):
            reply(client, requestID, type, .statuses(ids.map { release($0, by: client) }))
        case .contains(let id):
            let present = objects.slot(of: id).map { objects[$0].state == .sealed } ?? isSpilled(id)
            reply(client, requestID, type, .contains(present))
        case .delete(let ids):
            reply(client, requestID, type, .statuses(ids.map { delete($0) }))
        case .evict(let bytes):
            let (freed, count) = evict(atLeast: bytes)
            reply(client, requestID, type, .evicted(bytes: freed, objects: count))
        case .list:
            // Spilled objects are listed too: they are sealed and come back on get.
            reply(client, requestID, type, .list((objects.records.map(\.info) + spilledInfos()).sorted { $0.createdAtNanoseconds < $1.createdAtNanoseconds }))
        case .stats:
            reply(client, requestID, type, .stats(statistics))
        case .subscribe(let subscriptionID, let filter):
            reply(client, requestID, type, subscribe(SubscriptionKey(client: client, subscriptionID: subscriptionID), filter: filter))
        case .unsubscribe(let subscriptionID):
            reply(client, requestID, type, unsubscribe(SubscriptionKey(client: client, subscriptionID: subscriptionID)))
        case .cancel(let waiting):
            cancel(WaitKey(client: client, requestID: waiting))
            reply(client, requestID, type, .done)
        }
    }

    func reply(_ client: ClientID, _ requestID: UInt64, _ type: MessageType, _ reply: Reply) {
        replySink(client, requestID, type, reply)
    }

    func fail(_ status: PlasmaStatus, _ detail: String? = nil) -> Reply {
        .failure(status, message: detail.map { "\(status.summary): \($0)" } ?? status.summary)
    }

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
        statistics.clients = Int64(clients.count)
        statistics.pendingGets = Int64(waitingGets.count)
        statistics.pendingCreates = Int64(waitingCreates.count)
        statistics.fragmentationPermille = Int64((allocation.fragmentation * 1000).rounded())
        statistics.largestFreeBlock = Int64(allocation.largestFreeBlock)
        statistics.subscriptions = Int64(subscriptions.count)
        statistics.eventsQueued = Int64(eventsQueued)
        statistics.eventsDropped = Int64(droppedEvents)
        statistics.connectionsRefused = Int64(refusedConnections)
        statistics.arrowSubscriptionsDropped = Int64(droppedArrowSubscriptions)
        if let external { external.fill(&statistics) }
        statistics.emptyObjects = Int64(objects.emptyCount)
        statisticsAddendum(&statistics)
        return statistics
    }

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
            guard record.isEvictable == shouldBeEvictable else { return false }
        }
        return bytes == objects.bytesInUse && bytes <= capacity && pinnedBytesAreExact() && allocator.checkInvariants()
    }
}
