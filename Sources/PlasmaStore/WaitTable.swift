import PlasmaCore
import PlasmaWire

/// Names a request that is waiting: request ids are only unique per client.
struct WaitKey: Hashable {
    let client: ClientID
    let requestID: UInt64
}

/// A get that waits for at least one of its objects to be sealed.
struct GetWait {
    let key: WaitKey
    /// The ids asked for, in request order.
    let ids: [ObjectID]
    /// One result per requested id, request order; filled as objects are sealed.
    var results: [ObjectLocation?]
    /// Positions in `results` still waiting, per id (an id may be asked for more than once).
    var pending: [ObjectID: [Int]]
    /// Monotonic nanoseconds of this wait's timeout, nil for none. FIX (unit tests): the deadline heap
    /// can't drop entries, so a get answered early leaves its deadline behind; `fireDeadlines` compares
    /// against this so that the stale entry can't time out a later get that reuses the request id.
    var deadline: UInt64? = nil
}

/// Gets waiting for seals, indexed by the object they wait for, so that a seal touches only its waiters.
struct WaitTable {
    private(set) var waits: [WaitKey: GetWait] = [:]
    private var waitersByObject: [ObjectID: [WaitKey]] = [:]

    var count: Int { waits.count }

    func contains(_ key: WaitKey) -> Bool { waits[key] != nil }

    /// The deadline the waiting get `key` was given, nil when it isn't waiting or waits forever.
    func deadline(of key: WaitKey) -> UInt64? { waits[key]?.deadline }

    mutating func add(_ wait: GetWait) {
        waits[wait.key] = wait
        for id in wait.pending.keys { waitersByObject[id, default: []].append(wait.key) }
    }

    /// Takes the waiters of `id` out of the index; the caller settles each with `resolve`.
    mutating func takeWaiters(of id: ObjectID) -> [WaitKey] {
        waitersByObject.removeValue(forKey: id) ?? []
    }

    /// Fills the positions waiting for `id` with its location; returns the wait when nothing is left
    /// pending (it is then removed), nil otherwise.
    mutating func resolve(_ key: WaitKey, id: ObjectID, location: ObjectLocation) -> (positions: Int, completed: GetWait?) {
        guard var wait = waits[key], let positions = wait.pending.removeValue(forKey: id) else { return (0, nil) }
        for position in positions { wait.results[position] = location }
        if wait.pending.isEmpty {
            waits[key] = nil
            return (positions.count, wait)
        }
        waits[key] = wait
        return (positions.count, nil)
    }

    /// Removes a wait (timeout, cancel, disconnect) and unhooks it from every object it waited for.
    mutating func remove(_ key: WaitKey) -> GetWait? {
        guard let wait = waits.removeValue(forKey: key) else { return nil }
        for id in wait.pending.keys {
            guard var keys = waitersByObject[id] else { continue }
            keys.removeAll { $0 == key }
            waitersByObject[id] = keys.isEmpty ? nil : keys
        }
        return wait
    }
}
