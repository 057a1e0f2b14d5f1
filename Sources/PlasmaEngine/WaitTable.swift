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
    var results: [ObjectLocation?]
    /// For each id still waiting, its last position in `ids`.
    private(set) var pending: [ObjectID: Int32] = [:]
    /// For a position, the previous position of the same id (-1: none); empty while no id repeats.
    private var earlierSameID: [Int32] = []
    /// Monotonic nanoseconds of this wait's timeout, nil for none. FIX (unit tests): the deadline heap
    /// can't drop entries, so a get answered early leaves its deadline behind; `fireDeadlines` compares
    /// against this so that the stale entry can't time out a later get that reuses the request id.
    var deadline: UInt64? = nil

    init(key: WaitKey, ids: [ObjectID], results: [ObjectLocation?]) {
        self.key = key
        self.ids = ids
        self.results = results
    }

    var isComplete: Bool { pending.isEmpty }

    /// Position `position` (of `ids`) waits for its object.
    mutating func markWaiting(_ position: Int) {
        let id = ids[position]
        // Sized once for the rest of the ids: a hostile get of 65,536 missing ids would otherwise rehash
        // the index ~16 times while the loop waits.
        if pending.isEmpty { pending.reserveCapacity(ids.count - position) }
        if let later = pending.updateValue(Int32(position), forKey: id) {
            if earlierSameID.isEmpty { earlierSameID = [Int32](repeating: -1, count: ids.count) }
            earlierSameID[position] = later
        }
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

    private static func shard(_ id: ObjectID) -> Int { id.hashValue & 255 }

    var count: Int { waits.count }

    func contains(_ key: WaitKey) -> Bool { waits[key] != nil }

    /// The deadline the waiting get `key` was given, nil when it isn't waiting or waits forever.
    func deadline(of key: WaitKey) -> UInt64? { waits[key]?.deadline }

    mutating func add(_ wait: GetWait) {
        waits[wait.key] = wait
        for id in wait.pending.keys {
            let shard = Self.shard(id)
            switch waitersByObject[shard][id] {
            case nil: waitersByObject[shard][id] = .one(wait.key)
            case .one(let other): waitersByObject[shard][id] = .many([other, wait.key])
            case .many(var keys):
                waitersByObject[shard][id] = nil  // so that the append doesn't copy the array
                keys.append(wait.key)
                waitersByObject[shard][id] = .many(keys)
            }
        }
    }

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

    /// Removes a wait (timeout, cancel, disconnect) and unhooks it from every object it waited for.
    mutating func remove(_ key: WaitKey) -> GetWait? {
        guard let wait = waits.removeValue(forKey: key) else { return nil }
        for id in wait.pending.keys {
            let shard = Self.shard(id)
            switch waitersByObject[shard][id] {
            case .one(key): waitersByObject[shard][id] = nil
            case .many(var keys):
                waitersByObject[shard][id] = nil
                keys.removeAll { $0 == key }
                if keys.count > 1 {
                    waitersByObject[shard][id] = .many(keys)
                } else if let last = keys.first {
                    waitersByObject[shard][id] = .one(last)
                }
            case .one, nil: continue
            }
        }
        return wait
    }
}
