import PlasmaCore

/// Every object the store holds, indexed by id, with the eviction order threaded through the records.
///
/// Records live in a slab so that the LRU list can link them by index (no per-node allocation, O(1)
/// unlink). The list holds exactly the sealed objects that no client references: the evictable ones,
/// least recently released first.
struct ObjectTable {
    private var slots: [ObjectRecord?] = []
    private var freeSlots: [Int32] = []
    private var index: [ObjectID: Int32] = [:]
    private var oldestEvictable: Int32 = -1
    private var newestEvictable: Int32 = -1

    private(set) var evictableCount = 0
    private(set) var evictableBytes = 0
    /// Requested bytes of all objects: what counts against capacity.
    private(set) var bytesInUse = 0
    private(set) var sealedCount = 0

    var count: Int { index.count }
    var createdCount: Int { index.count - sealedCount }

    func slot(of id: ObjectID) -> Int32? { index[id] }

    subscript(slot: Int32) -> ObjectRecord {
        get { slots[Int(slot)]! }
        _modify { yield &slots[Int(slot)]! }
    }

    mutating func insert(_ record: ObjectRecord) -> Int32 {
        let slot: Int32
        if let reused = freeSlots.popLast() {
            slot = reused
            slots[Int(slot)] = record
        } else {
            slot = Int32(slots.count)
            slots.append(record)
        }
        index[record.id] = slot
        bytesInUse += record.totalSize
        if record.state == .sealed { sealedCount += 1 }
        return slot
    }

    @discardableResult
    mutating func remove(_ slot: Int32) -> ObjectRecord {
        if self[slot].isEvictable { unlinkEvictable(slot) }
        let record = slots[Int(slot)].take()!
        index[record.id] = nil
        freeSlots.append(slot)
        bytesInUse -= record.totalSize
        if record.state == .sealed { sealedCount -= 1 }
        return record
    }

    mutating func markSealed(_ slot: Int32, sealDuration: Int64) {
        self[slot].state = .sealed
        self[slot].sealDurationNanoseconds = sealDuration
        sealedCount += 1
    }

    /// Appends at the newest end: the object was just released by its last holder.
    mutating func linkEvictable(_ slot: Int32) {
        precondition(!self[slot].isEvictable)
        self[slot].isEvictable = true
        self[slot].olderSlot = newestEvictable
        self[slot].newerSlot = -1
        if newestEvictable >= 0 { self[newestEvictable].newerSlot = slot } else { oldestEvictable = slot }
        newestEvictable = slot
        evictableCount += 1
        evictableBytes += self[slot].totalSize
    }

    mutating func unlinkEvictable(_ slot: Int32) {
        precondition(self[slot].isEvictable)
        let (older, newer) = (self[slot].olderSlot, self[slot].newerSlot)
        if older >= 0 { self[older].newerSlot = newer } else { oldestEvictable = newer }
        if newer >= 0 { self[newer].olderSlot = older } else { newestEvictable = older }
        self[slot].isEvictable = false
        self[slot].olderSlot = -1
        self[slot].newerSlot = -1
        evictableCount -= 1
        evictableBytes -= self[slot].totalSize
    }

    /// The least recently released evictable object.
    var leastRecentlyUsed: Int32? { oldestEvictable >= 0 ? oldestEvictable : nil }

    /// All records, in no particular order.
    var records: some Sequence<ObjectRecord> { slots.lazy.compactMap { $0 } }
}
