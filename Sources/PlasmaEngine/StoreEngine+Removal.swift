import PlasmaCore

extension StoreEngine {
    /// Deletes a sealed object now, or when its last reference goes. An unsealed one is left alone
    /// (only its creator may abort it), unless `deferringUnsealed`: then it is deleted once it is sealed
    /// and unreferenced. A spilled object is deleted at once.
    public func delete(_ id: ObjectID, deferringUnsealed: Bool = false) -> DeleteOutcome {
        guard let slot = objects.slot(of: id) else { return dropSpilled(id) ? .deleted : .notFound }
        guard objects[slot].state == .sealed else {
            guard deferringUnsealed else { return .notSealed }
            objects[slot].deletePending = true
            return .deferredUntilSealed
        }
        if objects[slot].referenceCount > 0 {
            objects[slot].deletePending = true
            return .deferredUntilReleased
        }
        removeObject(at: slot, .deleted)
        deletedObjects += 1
        serveWaitingCreates()
        return .deleted
    }

    /// Evicts least recently used objects until at least `bytes` are freed or nothing evictable is
    /// left (spilling them when there is a spill sink); what was freed.
    public func evict(atLeast bytes: Int) -> (bytes: Int, objects: Int) {
        var freed = 0
        var count = 0
        while freed < bytes, let victim = objects.leastRecentlyUsed {
            freed += objects[victim].totalSize
            count += 1
            evict(victim)
        }
        // The command answers what it freed: its spills are written before it does (the loop waits).
        let spillsEnded = collectSpills(waiting: true)
        if count > 0 || spillsEnded { serveWaitingCreates() }
        return (freed, count)
    }

    func evict(_ slot: Int32) {
        evictedObjects += 1
        evictedBytes += objects[slot].totalSize
        // With a spill sink the bytes move there and the object stays known; the block frees when the
        // write finishes (StoreEngine+SpillInFlight.swift).
        if external != nil { return beginSpill(slot) }
        removeObject(at: slot, .evicted)
    }

    /// Drops the record, gives its block back and tells subscribers why. The caller has settled every
    /// reference.
    func removeObject(at slot: Int32, _ removal: Removal) {
        let record = objects.remove(slot)
        precondition(record.referenceCount == 0, "removing a referenced object")
        freeBlock(of: record)
        if cluster != nil { clusterObjectLeft(record.id, unsealed: record.state == .created) }  // StoreEngine+Cluster.swift
        publish(event(for: removal, of: record.id), about: record.id)
    }

    // MARK: Queries

    /// Sealed, in the arena or spilled.
    public func contains(_ id: ObjectID) -> Bool {
        objects.slot(of: id).map { objects[$0].state == .sealed } ?? isSpilled(id)
    }

    /// Every object, in the arena or spilled (those are sealed and come back on get), in no order.
    public func objectSnapshots() -> [ObjectSnapshot] {
        var snapshots = objects.records.map {
            ObjectSnapshot(info: $0.info, digest: $0.digest, createdAtMonotonicNanoseconds: $0.createdAtMonotonicNanoseconds, isSpilled: false)
        }
        snapshots += spilledSnapshots()
        return snapshots
    }

    /// Calls `body` for every sealed object in the arena, in table order (no order promised), with its
    /// sizes and digest; spilled objects are not included.
    public func forEachSealed(_ body: (_ id: ObjectID, _ dataSize: Int, _ metadataSize: Int, _ digest: UInt64) -> Void) {
        for record in objects.records where record.state == .sealed {
            body(record.id, record.dataSize, record.metadataSize, record.digest)
        }
    }

    /// Sealed objects in the arena now.
    public var sealedCount: Int { objects.sealedCount }

    /// The digest a present object was sealed with, 0 for none (or no such object).
    public func digest(of id: ObjectID) -> UInt64 {
        objects.slot(of: id).map { objects[$0].digest } ?? 0
    }

    /// The listed objects that are evictable become the most recently used.
    public func touch(_ ids: [ObjectID]) {
        for id in ids {
            guard let slot = objects.slot(of: id), objects[slot].isEvictable else { continue }
            objects.unlinkEvictable(slot)
            objects.linkEvictable(slot)
        }
    }
}
