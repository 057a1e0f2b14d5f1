/// Open addressing (linear probing, power-of-two capacity, at most 3/4 full) from an object's hash to
/// its slot. A bucket is one `UInt64`: the upper 32 bits of the id's hash (`Hasher`, seeded per process,
/// so clients cannot choose colliding ids) and the slot + 1 (0 marks an empty bucket). The home bucket
/// comes from those 32 hash bits, so growing and deleting never read a record; a lookup compares the
/// stored hash bits first and reads a record only when they match. Deletion shifts later entries back
/// (no tombstones) in the table entries are added to.
///
/// Growing never stops the caller for long, as in Redis's `dict` (incremental rehashing): growing at
/// once rehashed every entry into a table of twice the size, whose pages were touched for the first
/// time (at a million objects, 32 MB at the VM's 0.4–1 GB/s first touch, plus the rehash: tens to
/// hundreds of milliseconds of the loop inside one create, issue 13). Here each insert and remove also
/// does a few steps of the growth ahead:
/// 1. once the table is 11/16 full, the next one (twice the size) is allocated and zeroed
///    ``zeroStep`` buckets a step, so it is ready by the time the table is 3/4 full (later, and both
///    tables would be held for longer: at most ~35 bytes an entry, ClientStateBudget.objectRecordCost);
/// 2. then entries go to the new table, and the old one is drained ``drainStep`` buckets a step:
///    each of its entries moves to the new table and leaves a tombstone, so that the old table's probe
///    sequences stay whole for the entries not moved yet. A lookup tries the new table, then the old.
/// Were either step still unfinished when it is needed (it can't be with these step sizes), it is
/// finished there and then: slower, never wrong.
struct SlotIndex {
    /// Buckets zeroed per step of preparing the next table: it is twice the size of the current one
    /// and must be ready after 1/16 of the current one's buckets more inserts, so at least 32.
    static let zeroStep = 64
    /// Buckets of the old table moved per step: it must be empty before the new table is 3/4 full,
    /// 3/4 of the old table's size more inserts, so at least 4/3.
    static let drainStep = 16

    /// Where entries are added.
    private var table: Buckets
    /// The previous table, being drained; its buckets before `drained` hold no entry.
    private var draining: Buckets?
    private var drained = 0
    /// The next table, being zeroed (`Buckets.zeroed`).
    private var next: Buckets?
    private(set) var count = 0

    /// A growth is under way: the old table still holds entries (tests).
    var isDraining: Bool { draining != nil }

    /// Marks a drained entry: never an entry (the slot + 1 in the low half is at most `Int32.max`).
    private static let tombstone = UInt64.max

    init() { table = Buckets(capacity: 16) }

    private static func tag(_ hash: Int) -> UInt64 { UInt64(UInt(bitPattern: hash) >> 32) }
    private static func home(_ entry: UInt64, _ mask: Int) -> Int { Int(truncatingIfNeeded: entry >> 32) & mask }
    private static func slot(_ entry: UInt64) -> Int32 { Int32(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1 }

    /// The slot of the entry with `hash` for which `matches(slot)` holds, or nil.
    func find(_ hash: Int, where matches: (Int32) -> Bool) -> Int32? {
        if let bucket = Self.find(hash, in: table, where: matches) { return Self.slot(table[bucket]) }
        guard let draining, let bucket = Self.find(hash, in: draining, where: matches) else { return nil }
        return Self.slot(draining[bucket])
    }

    /// Adds `slot` under `hash`; the caller knows no entry for the same id exists.
    mutating func insert(_ slot: Int32, hash: Int) {
        precondition(slot >= 0 && slot < Int32.max, "slot out of range")
        makeUnique()
        if (count + 1) * 4 > table.capacity * 3 { grow() }
        Self.put(Self.tag(hash) << 32 | UInt64(slot + 1), into: table)
        count += 1
        step()
    }

    /// Removes the entry with `hash` for which `matches(slot)` holds; it must be present.
    mutating func remove(_ hash: Int, where matches: (Int32) -> Bool) {
        makeUnique()
        if let bucket = Self.find(hash, in: table, where: matches) {
            Self.remove(at: bucket, from: table)
        } else if let draining, let bucket = Self.find(hash, in: draining, where: matches) {
            draining[bucket] = Self.tombstone  // its probe sequences must stay whole until it is drained
        } else {
            preconditionFailure("removing an entry the index doesn't hold")
        }
        count -= 1
        step()
    }

    // MARK: Growth

    /// A few steps of the growth ahead: draining the old table, else preparing the next one.
    private mutating func step() {
        if let draining {
            let end = min(draining.capacity, drained + Self.drainStep)
            drain(draining, upTo: end)
            return
        }
        if next == nil, count * 16 >= table.capacity * 11 { next = biggerTable() }
        next?.zero(upTo: (next?.zeroed ?? 0) + Self.zeroStep)
    }

    /// The table is 3/4 full: the next one takes the entries from now on, and the current one drains.
    private mutating func grow() {
        if let draining { drain(draining, upTo: draining.capacity) }  // unfinished: at once
        let grown = next ?? biggerTable()
        grown.zero(upTo: grown.capacity)  // unfinished: at once
        next = nil
        draining = table
        drained = 0
        table = grown
    }

    /// A table twice the size of the current one, not zeroed yet.
    private func biggerTable() -> Buckets {
        precondition(table.capacity <= 1 << 31, "object index full")  // home buckets come from 32 hash bits
        return Buckets(capacity: table.capacity * 2, zeroedNow: false)
    }

    /// Moves the entries of `old`'s buckets `drained..<end` into `table`.
    private mutating func drain(_ old: Buckets, upTo end: Int) {
        while drained < end {
            let entry = old[drained]
            if entry != 0 && entry != Self.tombstone {
                Self.put(entry, into: table)
                old[drained] = Self.tombstone
            }
            drained += 1
        }
        if drained == old.capacity { draining = nil }
    }

    /// Copies the tables if this index shares them with a copy of itself (value semantics).
    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&table) { table = table.copy() }
        if draining != nil, !isKnownUniquelyReferenced(&draining!) { draining = draining!.copy() }
        if next != nil, !isKnownUniquelyReferenced(&next!) { next = next!.copy() }
    }

    // MARK: One table

    private static func find(_ hash: Int, in buckets: Buckets, where matches: (Int32) -> Bool) -> Int? {
        let tag = tag(hash)
        let mask = buckets.capacity - 1
        var i = Int(truncatingIfNeeded: tag) & mask
        while true {
            let entry = buckets[i]
            if entry == 0 { return nil }
            if entry >> 32 == tag, entry != tombstone, matches(slot(entry)) { return i }
            i = (i + 1) & mask
        }
    }

    private static func put(_ entry: UInt64, into buckets: Buckets) {
        let mask = buckets.capacity - 1
        var i = home(entry, mask)
        while buckets[i] != 0 { i = (i + 1) & mask }
        buckets[i] = entry
    }

    /// Empties `bucket` and moves back every later entry of its cluster whose home is not after the hole.
    private static func remove(at bucket: Int, from buckets: Buckets) {
        let mask = buckets.capacity - 1
        var hole = bucket
        var i = (hole + 1) & mask
        while buckets[i] != 0 {
            let home = home(buckets[i], mask)
            if (i &- home) & mask >= (i &- hole) & mask {
                buckets[hole] = buckets[i]
                hole = i
            }
            i = (i + 1) & mask
        }
        buckets[hole] = 0
    }
}

/// A power-of-two array of buckets, allocated without being written: it is zeroed in steps
/// (`zero(upTo:)`) before use, so that its pages are first touched a few at a time.
private final class Buckets {
    let capacity: Int
    private let storage: UnsafeMutablePointer<UInt64>
    /// Buckets `0..<zeroed` are zeroed (or hold entries).
    private(set) var zeroed = 0

    init(capacity: Int, zeroedNow: Bool = true) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
        if zeroedNow { zero(upTo: capacity) }
    }

    deinit { storage.deallocate() }

    subscript(bucket: Int) -> UInt64 {
        get { storage[bucket] }
        set { storage[bucket] = newValue }
    }

    func zero(upTo end: Int) {
        let end = min(end, capacity)
        guard end > zeroed else { return }
        (storage + zeroed).initialize(repeating: 0, count: end - zeroed)
        zeroed = end
    }

    func copy() -> Buckets {
        let copy = Buckets(capacity: capacity, zeroedNow: false)
        (copy.storage).initialize(from: storage, count: zeroed)
        copy.zeroed = zeroed
        return copy
    }
}
