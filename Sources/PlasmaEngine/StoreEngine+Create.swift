import PlasmaCore

extension StoreEngine {
    /// Creates an unsealed object held by its creator; when the store is full, evicts what it must, or
    /// waits up to `timeoutMilliseconds` for space (0: fail now, -1: forever) and answers through the
    /// observer under `ticket`.
    public func create(
        _ id: ObjectID, dataSize: Int, metadataSize: Int, timeoutMilliseconds: Int64, client: ClientID, ticket: UInt64
    ) -> CreateOutcome {
        guard isConnected(client) else { return .failed(EngineError(.invalidRequest, "unknown client")) }
        return create(id: id, dataSize: dataSize, metadataSize: metadataSize, inline: nil,
                      timeout: timeoutMilliseconds, key: WaitKey(client: client, requestID: ticket))
    }

    /// Creates the object with its bytes and seals it, as ``create(_:dataSize:metadataSize:timeoutMilliseconds:client:ticket:)``
    /// waits; the creator holds no reference afterwards.
    public func createAndSeal(
        _ object: InlineObject, timeoutMilliseconds: Int64, client: ClientID, ticket: UInt64
    ) -> CreateOutcome {
        guard isConnected(client) else { return .failed(EngineError(.invalidRequest, "unknown client")) }
        return create(id: object.id, dataSize: object.data.count, metadataSize: object.metadata.count, inline: object,
                      timeout: timeoutMilliseconds, key: WaitKey(client: client, requestID: ticket))
    }

    /// Create-and-seal of each object in turn, never waiting; one status per object.
    public func createAndSealBatch(_ objects: [InlineObject], client: ClientID) -> [PlasmaStatus] {
        guard isConnected(client) else { return objects.map { _ in .invalidRequest } }
        return objects.map { createAndSealNow($0, client: client) }
    }

    /// Create or create-and-seal: reserve space (evicting if needed), or fail, or wait for space.
    func create(
        id: ObjectID, dataSize: Int, metadataSize: Int, inline: InlineObject?, timeout: Int64, key: WaitKey
    ) -> CreateOutcome {
        let (size, overflow) = dataSize.addingReportingOverflow(metadataSize)
        if overflow || size > capacity {
            return .failed(EngineError(.tooLarge, "\(size) bytes requested, capacity is \(capacity)"))
        }
        if waitingCreates.contains(key) {
            return .failed(EngineError(.invalidRequest, "request id \(key.requestID) is already waiting"))
        }
        if isKnown(id) { return .failed(EngineError(.objectExists, id.hex)) }  // present, or spilled
        if let refusal = quotaRefusal(size, for: key.client) { return .failed(EngineError(.limitReached, refusal)) }
        let room = findRoom(size, canWait: true)
        if case .block(let block) = room {
            return place(id: id, dataSize: dataSize, metadataSize: metadataSize, inline: inline, block: block, client: key.client)
        }
        // A zero-byte create finds no room only at the zero-byte objects' limit, which freed bytes never
        // lift: waiting at the head of the queue it would hold up every create behind it. It fails now.
        if size == 0 { return .failed(EngineError(.outOfMemory, outOfMemoryDetail(size))) }
        // Room being written out to the spill sink: even a create that won't wait for space (timeout 0)
        // waits for that, so that the loop doesn't stall on the write; it fails if the room doesn't come.
        let spillOnly = room == .pending && timeout == 0
        guard timeout != 0 || spillOnly else { return .failed(EngineError(.outOfMemory, outOfMemoryDetail(size))) }
        var pending = PendingCreate(key: key, id: id, dataSize: dataSize, metadataSize: metadataSize, inline: inline)
        pending.failsWithoutRoom = spillOnly
        let full = clients[key.client]!.waitingCreates.count >= configuration.maxWaitingCreatesPerClient
        let refusal = full ? nil : waitMeter?.admit(pending.cost, for: key.client)  // nil: admitted (charged)
        if spillOnly, full || refusal != nil {
            // Not admitted to wait: as before spills were asynchronous, the loop waits for the sink.
            guard case .block(let block) = findRoom(size, canWait: false) else {
                return .failed(EngineError(.outOfMemory, outOfMemoryDetail(size)))
            }
            return place(id: id, dataSize: dataSize, metadataSize: metadataSize, inline: inline, block: block, client: key.client)
        }
        guard !full else {
            return .failed(EngineError(.limitReached, "\(configuration.maxWaitingCreatesPerClient) creates already waiting for space"))
        }
        if let refusal { return .failed(EngineError(.limitReached, "a create waiting for space: \(refusal)")) }
        clients[key.client]!.waitingCreates.insert(key.requestID)
        pending.deadline = addDeadline(after: timeout, kind: .create, key: key)
        waitingCreates.append(pending)
        return .waiting
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
    /// `digest`: reported for an inline object, which is sealed here.
    func place(
        id: ObjectID, dataSize: Int, metadataSize: Int, inline: InlineObject?, block: ArenaBlock?, client: ClientID,
        digest: UInt64 = 0
    ) -> CreateOutcome {
        var record = ObjectRecord(
            id: id, state: .created, block: block, dataSize: dataSize,
            metadataSize: metadataSize, creator: client, createdAtWallNanoseconds: clock.wallNanoseconds(),
            createdAtMonotonicNanoseconds: clock.monotonicNanoseconds())
        if inline != nil { record.digest = digest }
        let slot = objects.insert(record)
        if cluster != nil { demandMayEnd(id) }  // StoreEngine+Demand.swift
        guard let inline else {
            objects[slot].referenceCount = 1
            clients[client]!.created(id, size: record.totalSize)
            return .created(record.location)
        }
        write(inline.data, inline.metadata, at: record.location)
        markSealed(slot)
        return .sealed
    }

    /// Copies an object's bytes into the arena at `location` (an object this engine placed there).
    func write(_ data: [UInt8], _ metadata: [UInt8], at location: ObjectLocation) {
        guard location.dataSize + location.metadataSize > 0 else { return }
        let base = memory.baseAddress! + location.offset
        data.withUnsafeBytes { if $0.count > 0 { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        metadata.withUnsafeBytes {
            if $0.count > 0 { (base + location.dataSize).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
    }

    /// Finds room for `size` bytes now, waiting for the spill sink if need be: the arena block,
    /// `.some(nil)` for a zero-byte object that needs no block, or nil for no room.
    func reserveSpace(_ size: Int) -> ArenaBlock?? {
        guard case .block(let block) = findRoom(size, canWait: false) else { return nil }
        return .some(block)
    }

    /// Where room for an object comes from.
    enum Room: Equatable {
        /// This block (nil for a zero-byte object, which needs none).
        case block(ArenaBlock?)
        /// Spills under way will free it: ask again when they finish (only when the caller can wait).
        case pending
        /// Not even evicting every evictable object would make room.
        case none
    }

    /// Finds room for `size` bytes, evicting from the LRU. With a spill sink evicting only begins a
    /// spill; the room is there once the sink has written it. A caller that `canWait` then gets
    /// `.pending` (and is served from `spillsFinished`); otherwise the loop waits for the sink. Evicts
    /// nothing when even evicting everything evictable would not make room, so a hopeless create does
    /// not empty the store for nothing.
    func findRoom(_ size: Int, canWait: Bool) -> Room {
        guard size > 0 else { return emptyObjectsFull ? .none : .block(nil) }
        while true {
            let (leaving, held) = spillingBytes
            let inUse = objects.bytesInUse + held + restoringBytes
            if inUse + size - capacity > objects.evictableBytes + leaving + held { return .none }
            if inUse + size <= capacity, let block = allocator.allocate(size) { return .block(block) }
            let victim = objects.leastRecentlyUsed
            // Enough is already on its way out (or nothing else could go): wait for it, not evict more.
            if leaving + held > 0, inUse - leaving - held + size <= capacity || victim == nil {
                if collectSpills(waiting: !canWait) { continue }
                return canWait ? .pending : .none
            }
            guard let victim else { return .none }
            evict(victim)
            collectSpills(waiting: false)  // a sink that finishes at once (the hashtable) frees it now
        }
    }

    /// Zero-byte objects take no block, so capacity can't bound them: their count is (each record costs
    /// the heap up to 160 bytes, ClientStateBudget.objectRecordCost, and nothing would ever evict them
    /// to make room).
    var emptyObjectsFull: Bool { configuration.maxEmptyObjects.map { objects.emptyCount >= $0 } ?? false }

    func outOfMemoryDetail(_ size: Int) -> String {
        if size == 0, emptyObjectsFull {
            return "the store holds \(objects.emptyCount) zero-byte objects, its limit (1/8 of --client-state-budget); delete some"
        }
        return "\(size) bytes requested; \(objects.bytesInUse) of \(capacity) in use, \(objects.evictableBytes) evictable"
    }

    // MARK: Seal and abort

    /// Seals an object `client` created, with an optional 8-byte digest (little-endian) that list and
    /// `digest(of:)` report; the engine never checks it. Wakes the gets waiting for it and tells its
    /// subscribers.
    public func seal(_ id: ObjectID, digest: UInt64 = 0, client: ClientID) -> Result<Void, EngineError> {
        guard let slot = objects.slot(of: id) else { return .failure(EngineError(.objectNotFound, id.hex)) }
        guard objects[slot].state == .created else { return .failure(EngineError(.objectAlreadySealed, id.hex)) }
        guard objects[slot].creator == client else { return .failure(EngineError(.notCreator, id.hex)) }
        clients[client]!.sealed(id, size: objects[slot].totalSize)
        // Stored before the seal, so that the seal's event can be told with it.
        objects[slot].digest = digest
        markSealed(slot)
        return .success(())
    }

    /// Seals, wakes the gets waiting for this object and tells its subscribers.
    func markSealed(_ slot: Int32) {
        let record = objects[slot]
        let duration = Int64(clock.monotonicNanoseconds() &- record.createdAtMonotonicNanoseconds)
        objects.markSealed(slot, sealDuration: duration)
        if cluster != nil { clusterObjectSealed(record.id) }  // StoreEngine+Cluster.swift
        answerWaiters(at: slot)
        publish(.sealed(record.id, dataSize: record.dataSize, metadataSize: record.metadataSize), about: record.id)
        // Unreferenced: evictable now, or deleted now if its deletion was asked for while it was
        // unsealed (`deferringUnsealed`); a deletion-pending object must never sit in the LRU list.
        dropReferences(0, at: slot)
    }

    /// The gets waiting for this sealed object get it (one reference per position); those complete now
    /// are answered.
    func answerWaiters(at slot: Int32) {
        let record = objects[slot]
        for key in waitingGets.takeWaiters(of: record.id) {
            let (positions, completed) = waitingGets.resolve(key, id: record.id, location: record.location)
            // 0: a stale entry of an ended wait not yet unhooked (WaitTable.remove); its client may be gone.
            if positions > 0 { addReferences(positions, at: slot, for: key.client) }
            if let completed { answerWaitingGet(completed) }
        }
    }

    /// Drops an unsealed object its creator gave up on; subscribers hear it was aborted.
    public func abort(_ id: ObjectID, client: ClientID) -> Result<Void, EngineError> {
        guard let slot = objects.slot(of: id) else { return .failure(EngineError(.objectNotFound, id.hex)) }
        guard objects[slot].state == .created else {
            return .failure(EngineError(.objectAlreadySealed, "only unsealed objects can be aborted"))
        }
        guard objects[slot].creator == client else { return .failure(EngineError(.notCreator, id.hex)) }
        let held = clients[client]!.aborted(id, size: objects[slot].totalSize)
        objects[slot].referenceCount -= held
        removeObject(at: slot, .aborted)
        serveWaitingCreates()
        return .success(())
    }

    // MARK: Waiting creates

    /// Gives freed space to waiting creates, oldest first; stops at the first that still doesn't fit.
    /// The creates that wait only for spills under way (timeout 0) are then served out of turn: behind
    /// a head that waits for more room they would otherwise wait with it, maybe forever.
    func serveWaitingCreates() {
        beginWaitingRestores()  // a restore refused for want of room may fit now (StoreEngine+External.swift)
        serveWaitingCreatesInTurn()
        serveSpillOnlyCreates()
    }

    /// Each create that waits only for spills under way: placed if there is room now, failed if there
    /// is none even once they end, else queued again (it is answered when the spills it waits for end).
    private func serveSpillOnlyCreates() {
        for pending in waitingCreates.takeSpillOnly() {
            let size = pending.dataSize + pending.metadataSize
            var outcome: Result<CreateOutcome, EngineError>
            if isKnown(pending.id) {
                outcome = .failure(EngineError(.objectExists, pending.id.hex))
            } else if let refusal = quotaRefusal(size, for: pending.key.client) {
                outcome = .failure(EngineError(.limitReached, refusal))
            } else {
                switch findRoom(size, canWait: true) {
                case .pending:
                    waitingCreates.append(pending)
                    continue
                case .none: outcome = .failure(EngineError(.outOfMemory, outOfMemoryDetail(size)))
                case .block(let block):
                    outcome = .success(place(id: pending.id, dataSize: pending.dataSize, metadataSize: pending.metadataSize,
                                             inline: pending.inline, block: block, client: pending.key.client))
                }
            }
            waitingCreateEnded(pending)
            answer(pending, outcome)
        }
    }

    private func serveWaitingCreatesInTurn() {
        while let pending = waitingCreates.first() {
            let size = pending.dataSize + pending.metadataSize
            if isKnown(pending.id) {
                waitingCreates.removeFirst()
                waitingCreateEnded(pending)
                answer(pending, .failure(EngineError(.objectExists, pending.id.hex)))
                continue
            }
            // The client may have pinned more while this create waited.
            if let refusal = quotaRefusal(size, for: pending.key.client) {
                waitingCreates.removeFirst()
                waitingCreateEnded(pending)
                answer(pending, .failure(EngineError(.limitReached, refusal)))
                continue
            }
            let block: ArenaBlock?
            switch findRoom(size, canWait: true) {
            case .block(let found): block = found
            case .pending: return
            case .none:
                guard pending.failsWithoutRoom else { return }
                waitingCreates.removeFirst()
                waitingCreateEnded(pending)
                answer(pending, .failure(EngineError(.outOfMemory, outOfMemoryDetail(size))))
                continue
            }
            waitingCreates.removeFirst()
            waitingCreateEnded(pending)
            answer(pending, .success(place(id: pending.id, dataSize: pending.dataSize, metadataSize: pending.metadataSize,
                                           inline: pending.inline, block: block, client: pending.key.client)))
        }
    }

    private func answer(_ pending: PendingCreate, _ outcome: Result<CreateOutcome, EngineError>) {
        observer?.createAnswered(client: pending.key.client, ticket: pending.key.requestID, sealing: pending.inline != nil, outcome)
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
        observer?.createAnswered(client: key.client, ticket: key.requestID, sealing: expired.sealing,
                                 .failure(EngineError(.outOfMemory, "no space freed before the timeout")))
        // FIX (unit tests): the expired create may have been the head of the queue that kept later,
        // smaller creates waiting although space for them was free; serve them now.
        serveWaitingCreates()
    }
}
