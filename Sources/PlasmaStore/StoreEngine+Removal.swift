import PlasmaCore
import PlasmaWire

extension StoreEngine {
    /// Deletes a sealed object now, or when its last reference goes (`deletionDeferred`).
    /// Unsealed objects can't be deleted: only their creator may abort them.
    func delete(_ id: ObjectID) -> PlasmaStatus {
        guard let slot = objects.slot(of: id) else { return dropSpilled(id) ? .ok : .objectNotFound }
        guard objects[slot].state == .sealed else { return .objectNotSealed }
        if objects[slot].referenceCount > 0 {
            objects[slot].deletePending = true
            return .deletionDeferred
        }
        removeObject(at: slot, .deleted)
        deletedObjects += 1
        serveWaitingCreates()
        return .ok
    }

    /// Evicts least recently used objects until at least `bytes` are freed or nothing evictable is left.
    func evict(atLeast bytes: Int) -> (bytes: Int, objects: Int) {
        var freed = 0
        var count = 0
        while freed < bytes, let victim = objects.leastRecentlyUsed {
            freed += objects[victim].totalSize
            count += 1
            evict(victim)
        }
        if count > 0 { serveWaitingCreates() }
        return (freed, count)
    }

    func evict(_ slot: Int32) {
        evictedObjects += 1
        evictedBytes += objects[slot].totalSize
        // With an external store the bytes move there and the object stays known (StoreEngine+External.swift).
        if external != nil, spill(slot) { return }
        removeObject(at: slot, .evicted)
    }

    /// Drops the record, gives its block back and tells subscribers why. The caller has settled every
    /// reference.
    func removeObject(at slot: Int32, _ removal: Removal) {
        let record = objects.remove(slot)
        precondition(record.referenceCount == 0, "removing a referenced object")
        if let block = record.block { allocator.free(block) }
        publish(event(for: removal, of: record.id), about: record.id)
    }
}
