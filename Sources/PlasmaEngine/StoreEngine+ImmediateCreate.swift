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

    /// All or nothing: every object is created first; on the first failure the ones created are aborted
    /// (subscribers hear nothing: they were never sealed) and that failure is returned. Then all are
    /// sealed, each with its digest (`digests` has one per object).
    public func createAndSealImmediatelyAll(
        _ batch: [InlineObject], digests: [UInt64], evictIfFull: Bool, client: ClientID
    ) -> Result<Void, EngineError> {
        precondition(digests.count == batch.count, "one digest per object")
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
    /// Returns like `reserveSpace`: the block, `.some(nil)` for a zero-byte object, nil for no room.
    func reserveSpaceInBulk(_ size: Int, evictIfFull: Bool) -> ArenaBlock?? {
        guard size > 0 else { return emptyObjectsFull ? nil : .some(nil) }
        guard size <= capacity else { return nil }
        while true {
            if objects.bytesInUse + size <= capacity, let block = allocator.allocate(size) { return block }
            guard evictIfFull else { return nil }
            // Shortfall <= 0 means fragmentation: the fifth still frees room, until the LRU is empty.
            let shortfall = objects.bytesInUse + size - capacity
            let target = max(shortfall, capacity / Self.bulkEvictionFraction)
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
}
