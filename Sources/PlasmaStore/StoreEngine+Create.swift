import PlasmaCore
import PlasmaWire

extension StoreEngine {
    /// Create or create-and-seal: reserve space (evicting if needed), or fail, or wait for space.
    func create(
        id: ObjectID, dataSize: Int, metadataSize: Int, inline: InlineObject?, timeout: Int64, key: WaitKey,
        type: MessageType
    ) {
        let (size, overflow) = dataSize.addingReportingOverflow(metadataSize)
        if overflow || size > capacity {
            return reply(key.client, key.requestID, type,
                         fail(.tooLarge, "\(size) bytes requested, capacity is \(capacity)"))
        }
        if waitingCreates.contains(key) {
            return reply(key.client, key.requestID, type, fail(.invalidRequest, "request id \(key.requestID) is already waiting"))
        }
        if isKnown(id) {  // present, or spilled to the external store
            return reply(key.client, key.requestID, type, fail(.objectExists, id.hex))
        }
        if let refusal = quotaRefusal(size, for: key.client) {
            return reply(key.client, key.requestID, type, fail(.limitReached, refusal))
        }
        if let block = reserveSpace(size) {
            return reply(key.client, key.requestID, type,
                         place(id: id, dataSize: dataSize, metadataSize: metadataSize, inline: inline,
                               block: block, client: key.client))
        }
        guard timeout != 0 else {
            return reply(key.client, key.requestID, type, fail(.outOfMemory, outOfMemoryDetail(size)))
        }
        guard clients[key.client]!.waitingCreates.count < configuration.maxWaitingCreatesPerClient else {
            let detail = "\(configuration.maxWaitingCreatesPerClient) creates already waiting for space"
            return reply(key.client, key.requestID, type, fail(.limitReached, detail))
        }
        var pending = PendingCreate(key: key, id: id, dataSize: dataSize, metadataSize: metadataSize, inline: inline)
        if let refusal = waitMeter?.admit(pending.cost, for: key.client) {
            return reply(key.client, key.requestID, type, fail(.limitReached, "a create waiting for space: \(refusal)"))
        }
        clients[key.client]!.waitingCreates.insert(key.requestID)
        pending.deadline = addDeadline(after: timeout, kind: .create, key: key)
        waitingCreates.append(pending)
    }

    /// One item of a batch: never waits.
    func createAndSealNow(_ object: InlineObject, client: ClientID) -> PlasmaStatus {
        let size = object.data.count + object.metadata.count
        guard size <= capacity else { return .tooLarge }
        guard !isKnown(object.id) else { return .objectExists }
        guard quotaRefusal(size, for: client) == nil else { return .limitReached }
        guard let block = reserveSpace(size) else { return .outOfMemory }
        _ = place(id: object.id, dataSize: object.data.count, metadataSize: object.metadata.count, inline: object,
                  block: block, client: client)
        return .ok
    }

    /// Inserts the object in `block` (nil for a zero-byte object). A plain create leaves it unsealed and
    /// referenced by its creator; an inline one is copied in and sealed at once, with no reference held.
    /// (Internal, not private: Arrow's create uses it too.)
    func place(
        id: ObjectID, dataSize: Int, metadataSize: Int, inline: InlineObject?, block: Allocator.Block?, client: ClientID
    ) -> Reply {
        let record = ObjectRecord(
            id: id, state: .created, block: block, dataSize: dataSize,
            metadataSize: metadataSize, creator: client, createdAtWallNanoseconds: clock.wallNanoseconds(),
            createdAtMonotonicNanoseconds: clock.monotonicNanoseconds())
        let slot = objects.insert(record)
        guard let inline else {
            objects[slot].referenceCount = 1
            clients[client]!.created(id, size: record.totalSize)
            return .created(offset: record.offset)
        }
        if let offset = block?.offset {
            let base = memory.baseAddress! + offset
            inline.data.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            inline.metadata.withUnsafeBytes { (base + dataSize).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
        markSealed(slot)
        return .done
    }

    /// Finds room for `size` bytes: the arena block, `.some(nil)` for a zero-byte object that needs no
    /// block, or nil when even evicting every evictable object would not make room. Evicts nothing in
    /// that last case, so a hopeless create does not empty the store for nothing.
    func reserveSpace(_ size: Int) -> Allocator.Block?? {
        guard size > 0 else { return emptyObjectsFull ? nil : .some(nil) }
        let shortfall = objects.bytesInUse + size - capacity
        if shortfall > objects.evictableBytes { return nil }
        while true {
            if objects.bytesInUse + size <= capacity, let block = allocator.allocate(size) { return block }
            guard let victim = objects.leastRecentlyUsed else { return nil }
            evict(victim)
        }
    }

    /// Zero-byte objects take no block, so capacity can't bound them: their count is (each record costs
    /// the heap 144 bytes, and nothing would ever evict them to make room).
    var emptyObjectsFull: Bool { configuration.maxEmptyObjects.map { objects.emptyCount >= $0 } ?? false }

    func outOfMemoryDetail(_ size: Int) -> String {
        if size == 0, emptyObjectsFull {
            return "the store holds \(objects.emptyCount) zero-byte objects, its limit (1/8 of --client-state-budget); delete some"
        }
        return "\(size) bytes requested; \(objects.bytesInUse) of \(capacity) in use, \(objects.evictableBytes) evictable"
    }

    // MARK: Seal and abort

    func seal(_ id: ObjectID, by client: ClientID) -> Reply {
        guard let slot = objects.slot(of: id) else { return fail(.objectNotFound, id.hex) }
        guard objects[slot].state == .created else { return fail(.objectAlreadySealed, id.hex) }
        guard objects[slot].creator == client else { return fail(.notCreator, id.hex) }
        clients[client]!.sealed(id, size: objects[slot].totalSize)
        markSealed(slot)
        return .done
    }

    /// Seals, wakes the gets waiting for this object and tells its subscribers.
    func markSealed(_ slot: Int32) {
        let record = objects[slot]
        let duration = Int64(clock.monotonicNanoseconds() &- record.createdAtMonotonicNanoseconds)
        objects.markSealed(slot, sealDuration: duration)
        for key in waitingGets.takeWaiters(of: record.id) {
            let (positions, completed) = waitingGets.resolve(key, id: record.id, location: record.location)
            addReferences(positions, at: slot, for: key.client)
            if let completed { replyToGet(completed) }
        }
        publish(.sealed(record.id, dataSize: record.dataSize, metadataSize: record.metadataSize), about: record.id)
        // Unreferenced: evictable now, or deleted now if an Arrow client asked for its deletion while it
        // was unsealed (`arrowDelete`); a deletion-pending object must never sit in the LRU list.
        dropReferences(0, at: slot)
    }

    func abort(_ id: ObjectID, by client: ClientID) -> Reply {
        guard let slot = objects.slot(of: id) else { return fail(.objectNotFound, id.hex) }
        guard objects[slot].state == .created else { return fail(.objectAlreadySealed, "only unsealed objects can be aborted") }
        guard objects[slot].creator == client else { return fail(.notCreator, id.hex) }
        let held = clients[client]!.aborted(id, size: objects[slot].totalSize)
        objects[slot].referenceCount -= held
        removeObject(at: slot, .aborted)
        serveWaitingCreates()
        return .done
    }

    // MARK: Waiting creates

    /// Gives freed space to waiting creates, oldest first; stops at the first that still doesn't fit.
    func serveWaitingCreates() {
        while let pending = waitingCreates.first() {
            let size = pending.dataSize + pending.metadataSize
            if isKnown(pending.id) {
                waitingCreates.removeFirst()
                waitingCreateEnded(pending)
                reply(pending.key.client, pending.key.requestID, type(of: pending), fail(.objectExists, pending.id.hex))
                continue
            }
            // The client may have pinned more while this create waited.
            if let refusal = quotaRefusal(size, for: pending.key.client) {
                waitingCreates.removeFirst()
                waitingCreateEnded(pending)
                reply(pending.key.client, pending.key.requestID, type(of: pending), fail(.limitReached, refusal))
                continue
            }
            guard let block = reserveSpace(size) else { return }
            waitingCreates.removeFirst()
            waitingCreateEnded(pending)
            reply(pending.key.client, pending.key.requestID, type(of: pending),
                  place(id: pending.id, dataSize: pending.dataSize, metadataSize: pending.metadataSize,
                        inline: pending.inline, block: block, client: pending.key.client))
        }
    }

    private func waitingCreateEnded(_ pending: PendingCreate) {
        clients[pending.key.client]?.waitingCreates.remove(pending.key.requestID)
        waitMeter?.release(pending.cost, for: pending.key.client)
    }

    func expireWaitingCreate(_ key: WaitKey) {
        guard let expired = waitingCreates.cancel(key) else { return }
        clients[key.client]?.waitingCreates.remove(key.requestID)
        waitMeter?.release(expired.cost, for: key.client)
        // The entry stays in the queue until it reaches the head; `first()` skips it then.
        reply(key.client, key.requestID, expired.type, fail(.outOfMemory, "no space freed before the timeout"))
        // FIX (unit tests): the expired create may have been the head of the queue that kept later,
        // smaller creates waiting although space for them was free; serve them now.
        serveWaitingCreates()
    }

    private func type(of pending: PendingCreate) -> MessageType {
        pending.inline == nil ? .create : .createAndSeal
    }
}
