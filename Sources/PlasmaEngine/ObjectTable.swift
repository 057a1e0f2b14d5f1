import PlasmaCore

/// Every object the store holds, indexed by id, with the eviction order threaded through the records.
///
/// Records live in a slab so that the LRU list can link them by index (no per-node allocation, O(1)
/// unlink). The list holds exactly the sealed objects that no client references: the evictable ones,
/// least recently released first. The id -> slot index is a ``SlotIndex`` over the slab (8 bytes per
/// bucket) rather than a `[ObjectID: Int32]` (28 bytes per bucket): the records already hold the ids.
struct ObjectTable {
    private var slots: [ObjectRecord?] = []
    private var freeSlots: [Int32] = []
    private var index = SlotIndex()
    private var oldestEvictable: Int32 = -1
    private var newestEvictable: Int32 = -1

    private(set) var evictableCount = 0
    private(set) var evictableBytes = 0
    /// Requested bytes of all objects: what counts against capacity.
    private(set) var bytesInUse = 0
    private(set) var sealedCount = 0
    /// Objects of zero bytes: they take no arena block, so only this count bounds them.
    private(set) var emptyCount = 0

    var count: Int { index.count }
    var createdCount: Int { index.count - sealedCount }

    func slot(of id: ObjectID) -> Int32? {
        index.find(id.hashValue) { slots[Int($0)]!.id == id }?.slot
    }

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
        assert(self.slot(of: record.id) == nil, "inserting an id the table already holds")
        index.insert(slot, hash: record.id.hashValue)
        bytesInUse += record.totalSize
        if record.totalSize == 0 { emptyCount += 1 }
        if record.state == .sealed { sealedCount += 1 }
        return slot
    }

    @discardableResult
    mutating func remove(_ slot: Int32) -> ObjectRecord {
        if self[slot].isEvictable { unlinkEvictable(slot) }
        let record = slots[Int(slot)].take()!
        let bucket = index.find(record.id.hashValue) { $0 == slot }!.bucket
        index.remove(at: bucket)
        freeSlots.append(slot)
        bytesInUse -= record.totalSize
        if record.totalSize == 0 { emptyCount -= 1 }
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

    /// Slots used so far, free ones included: cursors over the table (lists, subscribe snapshots) walk
    /// `0..<slotCount`. A present object never changes slot.
    var slotCount: Int { slots.count }

    /// The record in `slot`, nil when the slot is free (or past the end).
    func record(inSlot slot: Int) -> ObjectRecord? { slot < slots.count ? slots[slot] : nil }
}

/// Open addressing (linear probing, power-of-two capacity, at most 3/4 full) from an object's hash to
/// its slot. A bucket is one `UInt64`: the upper 32 bits of the id's hash (`Hasher`, seeded per process,
/// so clients cannot choose colliding ids) and the slot + 1 (0 marks an empty bucket). The home bucket
/// comes from those 32 hash bits, so growing and deleting never read a record; a lookup compares the
/// stored hash bits first and reads a record only when they match. Deletion shifts later entries back
/// (no tombstones).
struct SlotIndex {
    private var buckets = [UInt64](repeating: 0, count: 16)
    private(set) var count = 0

    private var mask: Int { buckets.count - 1 }

    private static func tag(_ hash: Int) -> UInt64 { UInt64(UInt(bitPattern: hash) >> 32) }
    private static func home(_ bucket: UInt64, _ mask: Int) -> Int { Int(truncatingIfNeeded: bucket >> 32) & mask }

    /// The bucket and slot of the entry with `hash` for which `matches(slot)` holds, or nil.
    func find(_ hash: Int, where matches: (Int32) -> Bool) -> (bucket: Int, slot: Int32)? {
        let tag = Self.tag(hash)
        let mask = mask
        var i = Int(truncatingIfNeeded: tag) & mask
        while true {
            let entry = buckets[i]
            if entry == 0 { return nil }
            if entry >> 32 == tag {
                let slot = Int32(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1
                if matches(slot) { return (i, slot) }
            }
            i = (i + 1) & mask
        }
    }

    /// Adds `slot` under `hash`; the caller knows no entry for the same id exists.
    mutating func insert(_ slot: Int32, hash: Int) {
        precondition(slot >= 0 && slot < Int32.max, "slot out of range")
        if (count + 1) * 4 > buckets.count * 3 { grow() }
        Self.put(Self.tag(hash) << 32 | UInt64(slot + 1), into: &buckets)
        count += 1
    }

    /// Empties `bucket` and moves back every later entry of its cluster whose home is not after the hole.
    mutating func remove(at bucket: Int) {
        let mask = mask
        var hole = bucket
        var i = (hole + 1) & mask
        while buckets[i] != 0 {
            let home = Self.home(buckets[i], mask)
            if (i &- home) & mask >= (i &- hole) & mask {
                buckets[hole] = buckets[i]
                hole = i
            }
            i = (i + 1) & mask
        }
        buckets[hole] = 0
        count -= 1
    }

    private static func put(_ entry: UInt64, into buckets: inout [UInt64]) {
        let mask = buckets.count - 1
        var i = home(entry, mask)
        while buckets[i] != 0 { i = (i + 1) & mask }
        buckets[i] = entry
    }

    private mutating func grow() {
        precondition(buckets.count <= 1 << 31, "object index full")  // home buckets come from 32 hash bits
        var grown = [UInt64](repeating: 0, count: buckets.count * 2)
        for entry in buckets where entry != 0 { Self.put(entry, into: &grown) }
        buckets = grown
    }
}
