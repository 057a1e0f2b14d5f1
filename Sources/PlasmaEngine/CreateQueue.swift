import DequeModule
import PlasmaCore

/// A create (or create-and-seal) waiting for space, first come first served.
struct PendingCreate {
    let key: WaitKey
    let id: ObjectID
    let dataSize: Int
    let metadataSize: Int
    /// Present for create-and-seal: the bytes to copy in once space is found. (In the queue they are
    /// kept in `CreateQueue.inlines`, so that a cancel frees them at once.)
    var inline: InlineObject?
    /// Waits only for spills under way (a create with timeout 0): fails when they freed too little.
    var failsWithoutRoom = false
    /// Monotonic nanoseconds of this create's timeout, nil for none (see `GetWait.deadline`).
    var deadline: UInt64? = nil
    /// Told apart from a later create that reuses the request id (set by the queue).
    fileprivate(set) var serial: UInt64 = 0

    /// What it holds while it waits, for the engine's `WaitMeter`.
    var cost: WaitCost { .create(inlineBytes: inline.map { $0.data.count + $0.metadata.count } ?? 0) }
}

/// Creates that asked to wait when the store was full. Served in arrival order so that a large
/// create is not starved by a stream of small ones.
struct CreateQueue {
    private var queue: Deque<PendingCreate> = []
    /// Creates still wanted, with whether each seals (create-and-seal), the deadline they were given and the
    /// serial of their queue entry: a cancelled entry lingers in `queue` until it reaches the head, and
    /// must not come back to life when its request id is reused.
    private var live: [WaitKey: (sealing: Bool, deadline: UInt64?, serial: UInt64, cost: WaitCost)] = [:]
    private var nextSerial: UInt64 = 1
    /// Creates that wait only for spills under way (`failsWithoutRoom`), oldest first: kept out of
    /// `queue` and served out of turn (`takeSpillOnly`), so that a head waiting for more room can't hold
    /// them forever, and serving them never scans the whole queue (it runs on every release).
    private var spillOnly = Deque<PendingCreate>()
    /// The inline bytes of the live create-and-seals, by serial: taken out of the queue entry so that
    /// a cancel frees them at once (its charge is released then), not when the entry is swept.
    private var inlines: [UInt64: InlineObject] = [:]
    /// Inline bytes held now (those of live creates only), for tests.
    var inlineBytes: Int { inlines.values.reduce(0) { $0 + $1.data.count + $1.metadata.count } }

    var count: Int { live.count }
    /// Entries in the queue, cancelled ones included (for tests).
    var queuedEntries: Int { queue.count }
    func contains(_ key: WaitKey) -> Bool { live[key] != nil }
    func deadline(of key: WaitKey) -> UInt64? { live[key]?.deadline }

    mutating func append(_ create: PendingCreate) {
        var create = create
        create.serial = nextSerial
        nextSerial += 1
        live[create.key] = (create.inline != nil, create.deadline, create.serial, create.cost)
        if let inline = create.inline {
            inlines[create.serial] = inline
            create.inline = nil
        }
        if create.failsWithoutRoom { spillOnly.append(create) } else { queue.append(create) }
    }

    /// The oldest create still wanted; cancelled ones are dropped on the way.
    mutating func first() -> PendingCreate? {
        while var head = queue.first {
            if live[head.key]?.serial == head.serial {
                head.inline = inlines[head.serial]
                return head
            }
            queue.removeFirst()
        }
        return nil
    }

    mutating func removeFirst() {
        let head = queue.removeFirst()
        inlines[head.serial] = nil
        live[head.key] = nil
    }

    /// Takes out the live creates that wait only for spills under way, oldest first (cancelled ones are
    /// dropped); the caller answers them or appends them again.
    mutating func takeSpillOnly() -> [PendingCreate] {
        guard !spillOnly.isEmpty else { return [] }
        let waiting = spillOnly
        spillOnly = []
        return waiting.compactMap { entry in
            guard live[entry.key]?.serial == entry.serial else { return nil }
            var create = entry
            create.inline = inlines.removeValue(forKey: entry.serial)
            live[entry.key] = nil
            return create
        }
    }

    /// Cancels a waiting create: its inline bytes are freed now, its queue entry lazily (the sweep below
    /// bounds how long).
    /// Returns whether the cancelled create sealed, and its cost, nil when it wasn't waiting.
    @discardableResult
    mutating func cancel(_ key: WaitKey) -> (sealing: Bool, cost: WaitCost)? {
        guard let entry = live.removeValue(forKey: key) else { return nil }
        inlines[entry.serial] = nil
        // `first()` drops cancelled entries only at the head: behind a create that keeps waiting they
        // would pile up, inline bytes and all. Sweep them once they outnumber the live ones
        // (amortised O(1) per cancel; found by `plasma-bench soak`).
        if queue.count > 2 * live.count + 64 { queue = Deque(queue.filter { live[$0.key]?.serial == $0.serial }) }
        return (entry.sealing, entry.cost)
    }
}
