import DequeModule
import PlasmaCore

/// Names a request that is waiting: request ids are only unique per client.
struct WaitKey: Hashable {
    let client: ClientID
    let requestID: UInt64
}

/// A get that waits for at least one of its objects to be sealed.
///
/// Its per-id cost bounds what a client can make the store hold (ClientStateBudget.waitingGetIDCost), so
/// nothing here allocates per id: positions still waiting are an index from id to its last position,
/// with a chain through `earlierSameID` for an id asked for more than once.
struct GetWait {
    let key: WaitKey
    /// The ids asked for, in request order.
    let ids: [ObjectID]
    /// One result per requested id, request order; filled as objects are sealed.
    var results: GetResults
    /// For each id still waiting, its last position in `ids`.
    private(set) var pending: [ObjectID: Int32] = [:]
    /// For a position, the previous position of the same id (-1: none); empty while no id repeats.
    private var earlierSameID: [Int32] = []
    /// Positions of `ids` looked up so far: all of them once `get` returns, unless the get is scanned
    /// in slices (StoreEngine+GetScan.swift); positions beyond it are neither found nor waiting yet.
    var scanned = 0
    /// The timeout the get asked for (-1: forever), applied when a sliced scan ends.
    var timeoutMilliseconds: Int64 = -1
    /// Monotonic nanoseconds the get arrived, for the timeout of a sliced scan.
    var startedAtNanoseconds: UInt64 = 0
    /// Monotonic nanoseconds of this wait's timeout, nil for none. FIX (unit tests): the deadline heap
    /// can't drop entries, so a get answered early leaves its deadline behind; `fireDeadlines` compares
    /// against this so that the stale entry can't time out a later get that reuses the request id.
    var deadline: UInt64? = nil

    init(key: WaitKey, ids: [ObjectID]) {
        self.key = key
        self.ids = ids
        self.results = GetResults(count: ids.count)
    }

    /// Every id looked up and none still waiting.
    var isComplete: Bool { pending.isEmpty && scanned == ids.count }

    /// Still being looked up in slices.
    var isScanning: Bool { scanned < ids.count }

    /// Position `position` (of `ids`) waits for its object; true when no earlier position waits for the
    /// same id (the id is new to the waiter index).
    @discardableResult
    mutating func markWaiting(_ position: Int) -> Bool {
        let id = ids[position]
        // Sized once for the rest of the ids: a hostile get of 65,536 missing ids would otherwise rehash
        // the index ~16 times while the loop waits.
        if pending.isEmpty { pending.reserveCapacity(ids.count - position) }
        guard let later = pending.updateValue(Int32(position), forKey: id) else { return true }
        if earlierSameID.isEmpty { earlierSameID = [Int32](repeating: -1, count: ids.count) }
        earlierSameID[position] = later
        return false
    }

    /// Fills every position waiting for `id`; returns how many there were.
    mutating func fill(_ id: ObjectID, with location: ObjectLocation) -> Int {
        guard var position = pending.removeValue(forKey: id) else { return 0 }
        var count = 0
        while position >= 0 {
            results[Int(position)] = location
            count += 1
            position = earlierSameID.isEmpty ? -1 : earlierSameID[Int(position)]
        }
        return count
    }
}

/// Gets waiting for seals, indexed by the object they wait for, so that a seal touches only its waiters.
struct WaitTable {
    /// Almost every object has one waiter: that one is stored inline, not in an array of its own.
    private enum Waiters {
        case one(WaitKey)
        case many([WaitKey])
    }

    private(set) var waits: [WaitKey: GetWait] = [:]
    /// The waiter index, split by (seeded) hash into shards: a dictionary that grows rehashes all of its
    /// entries at once, and with millions of waiting ids in one dictionary that stalled the loop for
    /// hundreds of milliseconds inside one get (perf: most of a hostile get's time). A shard holds 1/256.
    private var waitersByObject = [[ObjectID: Waiters]](repeating: [:], count: 256)

    /// Ended waits whose index entries are still to be removed: their pending ids (the wait's own
    /// index, moved here, not copied: a copy of 65,536 ids into new pages took ~20 ms of the loop in a
    /// disconnect under `plasma-bench hostile`), and the position reached in them.
    private var unhooking = Deque<(key: WaitKey, pending: [ObjectID: Int32], next: [ObjectID: Int32].Index)>()
    /// Waits with more pending ids than this are unhooked in slices (`unhookSome`), not in `remove`.
    let unhookAtOnce: Int
    /// With a cluster: ids that gained their first waiter or lost their last one since the engine last
    /// took them (StoreEngine+Demand.swift); nil without one, so that a lone store fills nothing.
    var touched: Set<ObjectID>? = nil

    init(unhookAtOnce: Int = .max) { self.unhookAtOnce = unhookAtOnce }

    private static func shard(_ id: ObjectID) -> Int { id.hashValue & 255 }

    /// Index entries of ended waits are still to be removed.
    var isUnhooking: Bool { !unhooking.isEmpty }

    var count: Int { waits.count }

    func contains(_ key: WaitKey) -> Bool { waits[key] != nil }

    /// The deadline the waiting get `key` was given, nil when it isn't waiting or waits forever.
    func deadline(of key: WaitKey) -> UInt64? { waits[key]?.deadline }

    mutating func add(_ wait: GetWait) {
        waits[wait.key] = wait
        for id in wait.pending.keys { index(id, waitedBy: wait.key) }
    }

    /// `key` waits for `id` too (a slice of a scanned get marked it waiting). `demands`: false for a
    /// scanned get that won't wait (a poll of many ids), which stays local.
    private mutating func index(_ id: ObjectID, waitedBy key: WaitKey, demands: Bool = true) {
        // Every demanding waiter, not just the first: a poll still scanning may have indexed the id first.
        if demands { touched?.insert(id) }
        // One lookup (the subscript's modify accessor), not one to read and one to write: with millions of
        // waiting ids each lookup misses the caches, and this was most of a hostile get's scan (perf).
        Self.add(key, to: &waitersByObject[Self.shard(id)][id])
    }

    private static func add(_ key: WaitKey, to waiters: inout Waiters?) {
        switch waiters {
        case nil: waiters = .one(key)
        case .one(let other): waiters = .many([other, key])
        case .many(var keys):
            waiters = nil  // so that the append doesn't copy the array
            keys.append(key)
            waiters = .many(keys)
        }
    }

    /// Looks up the next `limit` positions of the scanning get `key` (StoreEngine+GetScan.swift):
    /// `sealedSlot` gives the slot of an id that is sealed now, whose location `location` gives; the
    /// others wait from now on. Returns the slots found (one per position), nil when `key` isn't scanning.
    mutating func scan(
        _ key: WaitKey, limit: Int, sealedSlot: (ObjectID) -> Int32?, location: (Int32) -> ObjectLocation
    ) -> (found: [Int32], wait: GetWait)? {
        // Taken out while it changes, as in `resolve`.
        guard var wait = waits.removeValue(forKey: key) else { return nil }
        var found: [Int32] = []
        let end = min(wait.ids.count, wait.scanned + max(1, limit))
        for position in wait.scanned..<end {
            if let slot = sealedSlot(wait.ids[position]) {
                wait.results[position] = location(slot)
                found.append(slot)
            } else if wait.markWaiting(position) {
                index(wait.ids[position], waitedBy: key, demands: wait.timeoutMilliseconds != 0)
            }
        }
        wait.scanned = end
        waits[key] = wait
        return (found, wait)
    }

    /// Sets the deadline of a wait whose scan has ended.
    mutating func setDeadline(_ deadline: UInt64?, of key: WaitKey) { waits[key]?.deadline = deadline }

    /// Whether some get may wait for `id` (an ended wait not yet unhooked counts too).
    func isWaited(for id: ObjectID) -> Bool { waitersByObject[Self.shard(id)][id] != nil }

    /// Takes the waiters of `id` out of the index; the caller settles each with `resolve`.
    mutating func takeWaiters(of id: ObjectID) -> [WaitKey] {
        switch waitersByObject[Self.shard(id)].removeValue(forKey: id) {
        case nil: []
        case .one(let key): [key]
        case .many(let keys): keys
        }
    }

    /// Fills the positions waiting for `id` with its location; returns the wait when nothing is left
    /// pending (it is then removed), nil otherwise.
    mutating func resolve(_ key: WaitKey, id: ObjectID, location: ObjectLocation) -> (positions: Int, completed: GetWait?) {
        // Taken out while it changes: changing a copy would copy its arrays, once per seal.
        guard var wait = waits.removeValue(forKey: key) else { return (0, nil) }
        let positions = wait.fill(id, with: location)
        if wait.isComplete { return (positions, wait) }
        waits[key] = wait
        return (positions, nil)
    }

    /// Removes a wait (timeout, cancel, disconnect) and unhooks it from every object it waited for: at
    /// once, or for a wait of more than `unhookAtOnce` pending ids, over the next `unhookSome` calls.
    /// Until then its stale entries are harmless: `resolve` finds no wait under the key, or a newer
    /// wait under the same key that doesn't wait for that id.
    mutating func remove(_ key: WaitKey) -> GetWait? {
        guard let wait = waits.removeValue(forKey: key) else { return nil }
        if wait.pending.count > unhookAtOnce {
            unhooking.append((key, wait.pending, wait.pending.startIndex))
            return wait
        }
        for id in wait.pending.keys { unhook(key, from: id) }
        return wait
    }

    /// Removes up to `limit` index entries of ended waits; returns how many ids it went through.
    @discardableResult
    mutating func unhookSome(limit: Int) -> Int {
        let limit = max(1, limit)
        var remaining = limit
        while remaining > 0, var first = unhooking.popFirst() {
            while remaining > 0, first.next != first.pending.endIndex {
                let id = first.pending[first.next].key
                // Unless a newer wait under the same key waits for it.
                if waits[first.key]?.pending[id] == nil { unhook(first.key, from: id) }
                first.pending.formIndex(after: &first.next)
                remaining -= 1
            }
            if first.next != first.pending.endIndex { unhooking.prepend(first) }
        }
        return limit - max(0, remaining)
    }

    private mutating func unhook(_ key: WaitKey, from id: ObjectID) {
        if Self.remove(key, from: &waitersByObject[Self.shard(id)][id]) { touched?.insert(id) }
    }

    /// Takes `key` out of `waiters` in place (one lookup, as in `add`); true when none is left.
    private static func remove(_ key: WaitKey, from waiters: inout Waiters?) -> Bool {
        switch waiters {
        case .one(key):
            waiters = nil
            return true
        case .many(var keys):
            waiters = nil
            keys.removeAll { $0 == key }
            if keys.count > 1 {
                waiters = .many(keys)
            } else if let last = keys.first {
                waiters = .one(last)
            } else {
                return true
            }
            return false
        case .one, nil: return false
        }
    }
}
