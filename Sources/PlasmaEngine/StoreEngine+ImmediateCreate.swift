import PlasmaCore

/// Creates that never wait, with bulk eviction: when the store is full they evict from the LRU at least
/// a fifth of the capacity at a time (or the shortfall, if larger) and keep what they evicted even when
/// the create then fails. A client with a granted quota makes room among its own objects first
/// (StoreEngine+GrantedQuota.swift). Dialects whose clients expect that behaviour use these commands
/// instead of the waiting ones.
extension StoreEngine {
    /// The least share of the capacity one round of bulk eviction frees.
    static let bulkEvictionFraction = 5

    /// Creates an unsealed object held by its creator, or says why not (`.outOfMemory`,
    /// `.objectExists`, `.tooLarge`). Never waits. Without `evictIfFull` it evicts nothing.
    public func createImmediately(
        _ id: ObjectID, dataSize: Int, metadataSize: Int, evictIfFull: Bool, client: ClientID
    ) -> Result<ObjectLocation, EngineError> {
        guard isConnected(client) else { return .failure(EngineError(.invalidRequest, "unknown client")) }
        let (size, overflow) = dataSize.addingReportingOverflow(metadataSize)
        guard !overflow, dataSize >= 0, metadataSize >= 0 else { return .failure(EngineError(.tooLarge)) }
        if isKnown(id) { return .failure(EngineError(.objectExists, id.hex)) }
        guard makeRoomInQuota(size, for: client, evictIfFull: evictIfFull),
              let block = reserveSpaceInBulk(size, evictIfFull: evictIfFull)
        else {
            serveWaitingCreates()  // what the failed create evicted may serve waiting creates
            return .failure(EngineError(.outOfMemory, outOfMemoryDetail(size)))
        }
        guard case .created(let location) = place(
            id: id, dataSize: dataSize, metadataSize: metadataSize, inline: nil, block: block, client: client)
        else { preconditionFailure("a plain create is placed unsealed") }
        chargeQuota(id, to: client)
        return .success(location)
    }

    /// Create, copy the bytes in, seal with `digest`; the creator keeps no reference, so the object is
    /// evictable at once (newest in the LRU).
    public func createAndSealImmediately(
        _ object: InlineObject, digest: UInt64, evictIfFull: Bool, client: ClientID
    ) -> Result<Void, EngineError> {
        createAndSealImmediatelyAll([object], digests: [digest], evictIfFull: evictIfFull, client: client)
    }

    /// All or nothing: room is found for every object first (evicting in bulk as ``createImmediately``
    /// does); on the first failure the blocks found are given back and that failure is returned (the
    /// objects never existed, so nobody hears of them; what was evicted stays evicted). Then each object
    /// is copied in and sealed with its digest (`digests` has one per object), unreferenced.
    public func createAndSealImmediatelyAll(
        _ batch: [InlineObject], digests: [UInt64], evictIfFull: Bool, client: ClientID
    ) -> Result<Void, EngineError> {
        precondition(digests.count == batch.count, "one digest per object")
        guard isConnected(client) else { return .failure(EngineError(.invalidRequest, "unknown client")) }
        // A granted quota makes room object by object among the client's charged ones: the batch's own
        // objects take part, so they must be in the table as they come.
        if quotas.clients[client] != nil { return createAndSealOneByOne(batch, digests: digests, evictIfFull: evictIfFull, client: client) }
        var blocks: [ArenaBlock?] = []
        blocks.reserveCapacity(batch.count)
        var pending = (bytes: 0, empty: 0)
        var ids = Set<ObjectID>()
        if batch.count > 1 { ids.reserveCapacity(batch.count) }
        func giveBack(_ error: EngineError) -> Result<Void, EngineError> {
            for case let block? in blocks { allocator.free(block) }
            serveWaitingCreates()  // what the batch evicted, and gave back, may serve waiting creates
            return .failure(error)
        }
        for object in batch {
            let size = object.data.count + object.metadata.count
            if isKnown(object.id) || (batch.count > 1 && !ids.insert(object.id).inserted) {
                return giveBack(EngineError(.objectExists, object.id.hex))
            }
            guard let block = reserveSpaceInBulk(size, evictIfFull: evictIfFull, pending: pending) else {
                return giveBack(EngineError(.outOfMemory, outOfMemoryDetail(size)))
            }
            blocks.append(block)
            pending.bytes += size
            if size == 0 { pending.empty += 1 }
        }
        for (index, object) in batch.enumerated() {
            _ = place(id: object.id, dataSize: object.data.count, metadataSize: object.metadata.count, inline: object,
                      block: blocks[index], client: client, digest: digests[index])
        }
        return .success(())
    }

    /// The batch as separate creates, seals and releases (a client with a granted quota).
    private func createAndSealOneByOne(
        _ batch: [InlineObject], digests: [UInt64], evictIfFull: Bool, client: ClientID
    ) -> Result<Void, EngineError> {
        var locations: [ObjectLocation] = []
        locations.reserveCapacity(batch.count)
        for (index, object) in batch.enumerated() {
            switch createImmediately(object.id, dataSize: object.data.count, metadataSize: object.metadata.count,
                                     evictIfFull: evictIfFull, client: client) {
            case .success(let location): locations.append(location)
            case .failure(let error):
                for created in batch[..<index] { _ = abort(created.id, client: client) }
                return .failure(error)
            }
        }
        for (index, object) in batch.enumerated() {
            write(object.data, object.metadata, at: locations[index])
            _ = seal(object.id, digest: digests[index], client: client)
            _ = release(object.id, client: client)
        }
        return .success(())
    }

    /// Allocate; when that fails, evict from the LRU at least max(shortfall, capacity / 5) bytes and
    /// retry; give up when less than the shortfall (or nothing) was evicted. Objects it evicted stay
    /// evicted. An object larger than the capacity fails at once.
    /// `pending`: bytes and zero-byte objects already reserved for a batch, not yet in the table.
    /// Returns like `reserveSpace`: the block, `.some(nil)` for a zero-byte object, nil for no room.
    func reserveSpaceInBulk(_ size: Int, evictIfFull: Bool, pending: (bytes: Int, empty: Int) = (0, 0)) -> ArenaBlock?? {
        guard size > 0 else {
            let full = configuration.maxEmptyObjects.map { objects.emptyCount + pending.empty >= $0 } ?? false
            return full ? nil : .some(nil)
        }
        guard size <= capacity else { return nil }
        while true {
            let inUse = objects.bytesInUse + spillingBytes.held + restoringBytes + pending.bytes
            if inUse + size <= capacity, let block = allocator.allocate(size) { return block }
            // Room on its way out to the spill sink comes first (these creates never wait: the loop does).
            if sinkBusy, collectSpills(waiting: true) { continue }
            guard evictIfFull else { return nil }
            // Shortfall <= 0 means fragmentation: the fifth still frees room, until the LRU is empty.
            let shortfall = inUse + size - capacity
            let target = max(shortfall, capacity / Self.bulkEvictionFraction)
            var freed = 0
            var evictedAny = false
            while freed < target, let victim = objects.leastRecentlyUsed {
                freed += objects[victim].totalSize
                evictedAny = true
                evict(victim)
            }
            // These creates never wait: the loop waits for the spills to be written.
            collectSpills(waiting: true)
            if !evictedAny || freed < shortfall { return nil }
        }
    }
}
