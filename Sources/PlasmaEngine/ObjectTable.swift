import PlasmaCore

/// Every object the store holds, indexed by id, with the eviction order threaded through the records.
///
/// Records live in a slab so that the LRU list can link them by index (no per-node allocation, O(1)
/// unlink). The list holds exactly the sealed objects that no client references: the evictable ones,
/// least recently released first. The id -> slot index is a ``SlotIndex`` over the slab (8 bytes per
/// bucket) rather than a `[ObjectID: Int32]` (28 bytes per bucket): the records already hold the ids.
///
/// The slab is pages of ``pageSlots`` records, each allocated once at its size: one array doubled by
/// copying, at a million objects (120 MB) into pages touched for the first time, held the loop
/// hundreds of milliseconds inside one create (issue 13, `plasma-bench hostile`).
struct ObjectTable {
    /// Records per page (480 KB).
    static let pageSlots = 4_096
    private var pages: [[ObjectRecord?]] = []
    /// Slots used so far, free ones included.
    private var usedSlots = 0
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
        index.find(id.hashValue) { self[$0].id == id }
    }

    subscript(slot: Int32) -> ObjectRecord {
        get { self[page: Int(slot)]! }
        _modify { yield &self[page: Int(slot)]! }
    }

    /// Slot `slot` of the slab as it is stored: nil when free.
    private subscript(page slot: Int) -> ObjectRecord? {
        get { pages[slot / Self.pageSlots][slot % Self.pageSlots] }
        _modify { yield &pages[slot / Self.pageSlots][slot % Self.pageSlots] }
    }

    mutating func insert(_ record: ObjectRecord) -> Int32 {
        let slot: Int32
        if let reused = freeSlots.popLast() {
            slot = reused
            self[page: Int(slot)] = record
        } else {
            slot = Int32(usedSlots)
            if usedSlots % Self.pageSlots == 0 {
                pages.append([])
                pages[pages.count - 1].reserveCapacity(Self.pageSlots)
            }
            pages[pages.count - 1].append(record)
            usedSlots += 1
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
        let record = self[page: Int(slot)].take()!
        index.remove(record.id.hashValue) { $0 == slot }
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
    var records: some Sequence<ObjectRecord> { pages.lazy.joined().compactMap { $0 } }

    /// Slots used so far, free ones included: cursors over the table (lists, subscribe snapshots) walk
    /// `0..<slotCount`. A present object never changes slot.
    var slotCount: Int { usedSlots }

    /// The record in `slot`, nil when the slot is free (or past the end).
    func record(inSlot slot: Int) -> ObjectRecord? {
        slot < usedSlots ? self[page: slot] : nil
    }
}
