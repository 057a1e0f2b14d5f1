import DequeModule
import PlasmaEngine

/// An Arrow subscriber is told first of every object sealed at its subscribe (ARROW-2551). Copying
/// 20,000 objects' entries at once held the loop ~10 ms (issue 13), so the snapshot is walked over the
/// object table a slice of slots a pass (StoreServer+DeferredWork.swift), subscribers in turn, like the
/// native lists (StoreServer+Lists.swift), each slice queued as it is walked.
///
/// What the subscriber hears (docs/SECURITY.md): every object sealed at its subscribe and still present
/// when the walk reaches it, once, before any event since the subscribe (those wait behind the walk).
/// An object sealed since is announced by its event only: the walk skips objects sealed after the
/// subscribe's time (`ArrowNotifier.SnapshotWalk.subscribedAt`). An object deleted (or evicted) before
/// the walk reached it is not announced as sealed; its deletion is, in order with the other events.
/// This needs objects never to change slot while present: with a spill store the snapshot is taken at
/// once.
extension StoreServer {
    /// Tables of at most this many slots are taken at once: less than a slice of a list.
    static let arrowSnapshotAtOnceSlots = ListBuild.sliceObjects

    /// Starts the subscriber's snapshot: at once for a small table (or with a spill store), else walked.
    func beginArrowSnapshot(for connection: Connection, _ notifier: ArrowNotifier) {
        let endSlot = engine.tableSlotCount
        guard engine.canWalkInSlices, endSlot > Self.arrowSnapshotAtOnceSlots else {
            let snapshot = arrow.sealedSnapshot()
            passMeter.work.snapshotEntries += snapshot.count
            // Work of this pass's request (StoreServer+Pacing.swift), counted as listed objects are.
            let units = (engine.objectCount + PassPacing.listedObjectsPerUnit - 1) / PassPacing.listedObjectsPerUnit
            pacing.workDone += units
            passMeter.work.deferredUnits += units
            notifier.queueSnapshot(snapshot)
            flushNotifier(of: connection)
            return
        }
        notifier.snapshotWalk = ArrowNotifier.SnapshotWalk(nextSlot: 0, endSlot: endSlot, subscribedAt: tickedMonotonicNanoseconds())
        arrowSnapshotWalks.append(connection)
    }

    /// Once per pass: about `slots` table slots of the snapshots being walked, a slice each in turn.
    /// Returns the slots walked.
    func advanceArrowSnapshotWalks(slots: Int) -> Int {
        var remaining = max(1, slots)
        var turns = arrowSnapshotWalks.count  // each walk at most once a pass
        while remaining > 0, turns > 0, let connection = arrowSnapshotWalks.popFirst() {
            turns -= 1
            // Gone, or its subscription dropped: nothing to walk for.
            guard !connection.isClosed, let notifier = connection.arrow?.notifier, var walk = notifier.snapshotWalk
            else { continue }
            let range = walk.nextSlot..<min(walk.endSlot, walk.nextSlot + min(remaining, ListBuild.sliceObjects))
            var entries: [ArrowNotifier.Pending] = []
            engine.forEachObject(inSlots: range) { _, row in
                let info = row.info
                guard walk.announces(sealedAt: row.sealedAtMonotonicNanoseconds) else { return }
                entries.append(.sealed(id: info.id, dataSize: Int64(info.dataSize), metadataSize: Int64(info.metadataSize), digest: row.digest))
            }
            remaining -= max(1, range.count)
            passMeter.work.snapshotEntries += entries.count
            walk.nextSlot = range.upperBound
            let done = walk.nextSlot >= walk.endSlot
            notifier.snapshotWalk = done ? nil : walk  // done: the events waiting behind it may go
            notifier.queueSnapshot(entries)
            flushNotifier(of: connection)
            if !done { arrowSnapshotWalks.append(connection) }
        }
        return max(1, slots) - max(0, remaining)
    }

    /// A reading of the engine's clock (the system's monotonic one) that every later reading exceeds:
    /// waits out the clock's tick (nanoseconds with the usual TSC clock source; up to a jiffy, a few
    /// milliseconds, with a coarse one), so that a seal run after this can't read the same time.
    private func tickedMonotonicNanoseconds() -> UInt64 {
        let now = clock.monotonicNanoseconds()
        while clock.monotonicNanoseconds() == now {}
        return now
    }
}
