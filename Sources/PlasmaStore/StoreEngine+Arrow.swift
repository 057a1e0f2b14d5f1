import DequeModule
import PlasmaCore
import PlasmaWire

/// What the engine keeps for clients that speak Arrow's dialect (pyarrow 11 / libplasma).
struct ArrowEngineState {
    struct Client {
        var name = ""
        /// `set_client_options` quota in bytes; nil: none (Arrow grants it at most once per client).
        var quota: Int?
        /// Objects charged to the quota, oldest first; entries whose object is gone or was demoted are
        /// skipped when walked (quota clients are rare, so the walk is cheap enough).
        var charged: Deque<ObjectID> = []
    }

    var clients: [ClientID: Client] = [:]
    /// Sum of the quotas granted. It only decides whether the next quota is granted (Arrow's 30 % rule);
    /// unlike Arrow's store, which shrank its global LRU by each quota, nothing is reserved: other
    /// clients may still fill the whole capacity (one LRU for all; docs/ARCHITECTURE.md §10).
    var grantedQuota = 0
}

enum ArrowCreateOutcome {
    case created(ObjectLocation)
    case failed(ArrowPlasmaError)
}

/// Arrow's store semantics, for the Arrow session. They differ from the native ones in three ways:
/// - references: Arrow's store keeps a *set* of objects per client, so a client holds at most one
///   reference per object however often it gets it; pyarrow counts locally and sends one release;
/// - creates never wait for space: they evict "at least 20 % of capacity" (Arrow's `RequireSpace`) and
///   keep what they evicted even when the create then fails, or answer OutOfMemory;
/// - seals carry an 8-byte digest that list and notifications report.
extension StoreEngine {
    /// Arrow's `kGlobalLruReserveFraction`: quotas may leave no less than this share of the capacity.
    static let arrowGlobalReserveFraction = 0.3

    /// The connection turned out to speak Arrow's dialect: Arrow's reference rules apply to it from now on.
    public func adoptArrowDialect(_ client: ClientID) {
        guard clients[client] != nil else { return }
        arrow.clients[client] = ArrowEngineState.Client()
    }

    func arrowClientLeft(_ client: ClientID) {
        guard let state = arrow.clients.removeValue(forKey: client) else { return }
        // Its quota returns to the pool; its objects stay in the one global LRU they were always in.
        if let quota = state.quota { arrow.grantedQuota -= quota }
    }

    /// How many of `count` new references `client` really takes: an Arrow client at most one per object.
    func arrowReferencesToAdd(_ count: Int, at slot: Int32, for client: ClientID) -> Int {
        guard arrow.clients[client] != nil else { return count }
        return (clients[client]?.references[objects[slot].id] ?? 0) > 0 ? 0 : min(count, 1)
    }

    // MARK: Create

    /// Creates an unsealed object held by its creator, or says why not. Never waits.
    func arrowCreate(
        id: ObjectID, dataSize: UInt64, metadataSize: UInt64, evictIfFull: Bool, deviceNum: Int32, client: ClientID
    ) -> ArrowCreateOutcome {
        // Arrow's wheels have no CUDA: device_num != 0 is OutOfMemory there too.
        guard deviceNum == 0, let data = Int(exactly: dataSize), let metadata = Int(exactly: metadataSize)
        else { return .failed(.outOfMemory) }
        let (size, overflow) = data.addingReportingOverflow(metadata)
        guard !overflow else { return .failed(.outOfMemory) }
        if isKnown(id) { return .failed(.objectExists) }
        guard enforceArrowQuota(size, for: client, evictIfFull: evictIfFull),
              let block = arrowReserveSpace(size, evictIfFull: evictIfFull)
        else {
            serveWaitingCreates()  // what the failed create evicted may serve native creates
            return .failed(.outOfMemory)
        }
        _ = place(id: id, dataSize: data, metadataSize: metadata, inline: nil, block: block, client: client)
        chargeArrowQuota(id, to: client)
        return .created(ObjectLocation(offset: block?.offset ?? 0, dataSize: data, metadataSize: metadata))
    }

    /// Arrow's `AllocateMemory` loop: allocate; when that fails, evict from the LRU at least
    /// max(shortfall, capacity / 5) bytes and retry; give up when less than the shortfall (or nothing)
    /// was evicted. Objects it evicted stay evicted. One difference: an object larger than the capacity
    /// fails at once, where Arrow's store first flushed the whole LRU for nothing.
    /// Returns like `reserveSpace`: the block, `.some(nil)` for a zero-byte object, nil for no room.
    func arrowReserveSpace(_ size: Int, evictIfFull: Bool) -> Allocator.Block?? {
        guard size > 0 else { return emptyObjectsFull ? nil : .some(nil) }
        guard size <= capacity else { return nil }
        while true {
            if objects.bytesInUse + size <= capacity, let block = allocator.allocate(size) { return block }
            guard evictIfFull else { return nil }
            // Shortfall <= 0 means fragmentation: the 20 % still frees room, until the LRU is empty.
            let shortfall = objects.bytesInUse + size - capacity
            let target = max(shortfall, capacity / 5)
            var freed = 0
            var evictedAny = false
            while freed < target, let victim = objects.leastRecentlyUsed {
                freed += objects[victim].totalSize
                evictedAny = true
                evict(victim)
            }
            if !evictedAny || freed < shortfall { return nil }
        }
    }

    /// Create, copy the bytes in, seal with the client's digest; the creator keeps no reference, so the
    /// object is evictable at once (newest in the LRU), as in Arrow.
    func arrowCreateAndSeal(
        id: ObjectID, data: [UInt8], metadata: [UInt8], digest: [UInt8], evictIfFull: Bool, client: ClientID
    ) -> ArrowPlasmaError {
        switch arrowCreate(id: id, dataSize: UInt64(data.count), metadataSize: UInt64(metadata.count),
                           evictIfFull: evictIfFull, deviceNum: 0, client: client) {
        case .failed(let error): return error
        case .created(let location):
            copyIn(data, metadata, at: location)
            sealAndRelease(id, digest: digest, client: client)
            return .ok
        }
    }

    /// All or nothing: every object is created first; on the first failure the ones created are aborted
    /// (no notification), as Arrow's store does. Then all are sealed, each with its digest.
    func arrowCreateAndSealBatch(
        ids: [ObjectID], data: [[UInt8]], metadata: [[UInt8]], digests: [[UInt8]], evictIfFull: Bool,
        client: ClientID
    ) -> ArrowPlasmaError {
        var locations: [ObjectLocation] = []
        for (index, id) in ids.enumerated() {
            switch arrowCreate(id: id, dataSize: UInt64(data[index].count), metadataSize: UInt64(metadata[index].count),
                               evictIfFull: evictIfFull, deviceNum: 0, client: client) {
            case .created(let location): locations.append(location)
            case .failed(let error):
                for created in ids[..<index] { _ = abort(created, by: client) }
                return error
            }
        }
        for (index, id) in ids.enumerated() {
            copyIn(data[index], metadata[index], at: locations[index])
            sealAndRelease(id, digest: digests[index], client: client)
        }
        return .ok
    }

    private func copyIn(_ data: [UInt8], _ metadata: [UInt8], at location: ObjectLocation) {
        guard location.dataSize + location.metadataSize > 0 else { return }
        let base = memory.baseAddress! + location.offset
        data.withUnsafeBytes { if $0.count > 0 { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        metadata.withUnsafeBytes {
            if $0.count > 0 { (base + location.dataSize).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
    }

    private func sealAndRelease(_ id: ObjectID, digest: [UInt8], client: ClientID) {
        _ = arrowSeal(id, digest: digest, by: client)
        _ = release(id, by: client)
    }

    // MARK: Seal, delete, contains, list

    /// Seals with Arrow's digest. The digest is stored before the seal, so that the seal's notification
    /// (sent from inside `seal`) reports it.
    func arrowSeal(_ id: ObjectID, digest: [UInt8], by client: ClientID) -> PlasmaStatus {
        if let slot = objects.slot(of: id), objects[slot].state == .created, objects[slot].creator == client {
            objects[slot].digest = Self.digestValue(digest)
        }
        if case .failure(let status, _) = seal(id, by: client) { return status }
        return .ok
    }

    /// Arrow's delete: OK, ObjectNotFound, ObjectNotSealed or ObjectInUse per id. The last two are
    /// remembered and carried out when the object is sealed and its last reference goes (Arrow's
    /// deletion cache).
    func arrowDelete(_ ids: [ObjectID]) -> [ArrowPlasmaError] {
        ids.map { id in
            if dropSpilled(id) { return .ok }
            guard let slot = objects.slot(of: id) else { return .objectNotFound }
            if objects[slot].state == .created {
                objects[slot].deletePending = true
                return .objectNotSealed
            }
            switch delete(id) {
            case .ok: return .ok
            case .deletionDeferred: return .objectInUse
            case .objectNotFound: return .objectNotFound
            default: return .objectNotSealed
            }
        }
    }

    /// Sealed objects, and objects spilled to the external store (Arrow's EVICTED state counts too).
    func arrowContains(_ id: ObjectID) -> Bool {
        if let slot = objects.slot(of: id) { return objects[slot].state == .sealed }
        return isSpilled(id)
    }

    /// Every object, oldest first, as Arrow's ListReply reports it: times in whole seconds, the digest
    /// empty while unsealed (pyarrow derives "created"/"sealed" from that), construct_duration -1 then.
    func arrowList() -> [ArrowObjectInfo] {
        var infos = objects.records.sorted { $0.createdAtMonotonicNanoseconds < $1.createdAtMonotonicNanoseconds }.map { record in
            ArrowObjectInfo(
                objectID: record.id, dataSize: Int64(record.dataSize), metadataSize: Int64(record.metadataSize),
                refCount: Int32(clamping: record.referenceCount),
                createTime: record.createdAtWallNanoseconds / 1_000_000_000,
                constructDuration: record.state == .sealed ? record.sealDurationNanoseconds / 1_000_000_000 : -1,
                digest: record.state == .sealed ? Self.digestBytes(record.digest) : [])
        }
        infos += spilledArrowInfos()
        return infos
    }

    /// What a new subscriber is told first: one seal notification per sealed object, in table order
    /// (Arrow's store walked its hash map: no order was ever promised). Compact entries, encoded only
    /// as the subscriber's socket drains (ArrowNotifier).
    func arrowSealedObjects() -> [ArrowNotifier.Pending] {
        var sealed: [ArrowNotifier.Pending] = []
        sealed.reserveCapacity(objects.sealedCount)
        for record in objects.records where record.state == .sealed {
            sealed.append(.sealed(id: record.id, dataSize: Int64(record.dataSize), metadataSize: Int64(record.metadataSize), digest: record.digest))
        }
        return sealed
    }

    /// The digest of a present object, for a seal notification.
    func arrowDigest(of id: ObjectID) -> UInt64 {
        objects.slot(of: id).map { objects[$0].digest } ?? 0
    }

    // MARK: LRU, quota, debug

    /// Arrow's RefreshLRU: the listed objects that are evictable become the most recently used.
    func arrowRefreshLRU(_ ids: [ObjectID]) {
        for id in ids {
            guard let slot = objects.slot(of: id), objects[slot].isEvictable else { continue }
            objects.unlinkEvictable(slot)
            objects.linkEvictable(slot)
        }
    }

    /// Arrow's `SetClientQuota`: at most once per client, and only while the quotas granted leave at
    /// least 30 % of the capacity to everyone else. A negative quota is refused (Arrow took it and grew
    /// its global pool).
    func arrowSetOptions(name: String, quota: Int64, client: ClientID) -> ArrowPlasmaError {
        guard var state = arrow.clients[client] else { return .outOfMemory }
        state.name = name
        defer { arrow.clients[client] = state }
        guard state.quota == nil, quota >= 0, let quota = Int(exactly: quota),
              Double(capacity - arrow.grantedQuota - quota) >= Double(capacity) * Self.arrowGlobalReserveFraction
        else { return .outOfMemory }
        state.quota = quota
        arrow.grantedQuota += quota
        return .ok
    }

    /// Arrow's `EnforcePerClientQuota`, for creates: larger than the quota fails; otherwise the client's
    /// own oldest objects make room: unreferenced ones are evicted, referenced ones are no longer charged
    /// to it (Arrow "demotes" them to the global LRU).
    private func enforceArrowQuota(_ size: Int, for client: ClientID, evictIfFull: Bool) -> Bool {
        guard evictIfFull, var state = arrow.clients[client], let quota = state.quota else { return true }
        guard size <= quota else { return false }
        var charged = chargedBytes(of: client, state: &state)
        while charged + size > quota, let id = state.charged.popFirst() {
            guard let slot = objects.slot(of: id), objects[slot].quotaOwner == client else { continue }
            charged -= objects[slot].totalSize
            objects[slot].quotaOwner = nil
            if objects[slot].isEvictable { evict(slot) }
        }
        arrow.clients[client] = state
        return true
    }

    /// Bytes charged to `client`'s quota now; drops stale entries on the way.
    private func chargedBytes(of client: ClientID, state: inout ArrowEngineState.Client) -> Int {
        var seen = Set<ObjectID>()
        var live: Deque<ObjectID> = []
        var total = 0
        for id in state.charged where seen.insert(id).inserted {
            guard let slot = objects.slot(of: id), objects[slot].quotaOwner == client else { continue }
            live.append(id)
            total += objects[slot].totalSize
        }
        state.charged = live
        return total
    }

    private func chargeArrowQuota(_ id: ObjectID, to client: ClientID) {
        guard arrow.clients[client]?.quota != nil, let slot = objects.slot(of: id) else { return }
        objects[slot].quotaOwner = client
        arrow.clients[client]!.charged.append(id)
    }

    /// Any readable text will do for pyarrow's `debug_string()`; this mirrors what Arrow's listed.
    func arrowDebugString() -> String {
        let statistics = statistics
        var lines = [
            "(global lru) capacity: \(capacity - arrow.grantedQuota)",
            "(global lru) used: \(statistics.bytesInUse) bytes of \(capacity)",
            "(global lru) num objects: \(objects.count) (\(statistics.evictableObjects) evictable)",
            "(global lru) num evictions: \(evictedObjects)",
            "(global lru) bytes evicted: \(evictedBytes)",
            "spilled objects: \(statistics.spilledObjects) (\(statistics.spilledBytes) bytes)",
            "clients with quota: \(arrow.clients.values.filter { $0.quota != nil }.count)",
        ]
        for (client, state) in arrow.clients.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            guard let quota = state.quota else { continue }
            lines.append("(\(state.name.isEmpty ? "\(client)" : state.name)) quota: \(quota)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: Digest bytes

    static func digestValue(_ bytes: [UInt8]) -> UInt64 {
        var value: UInt64 = 0
        for (index, byte) in bytes.prefix(8).enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
        return value
    }

    static func digestBytes(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }
}
