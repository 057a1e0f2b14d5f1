import PlasmaEngine

/// The work a loop pass does after its ready descriptors, within what is left of the pass's budget
/// (StoreServer+Pacing.swift): slices of the engine's sliced work (big gets looked up, ended waits
/// unhooked), slices of the lists being built and of Arrow subscribe snapshots, and the paused connections' buffered frames.
///
/// One budget for all four, taken in turn (each pass another kind goes first), so that a pass never
/// does a full share of each: before, a pass could run a slice of every kind on top of its requests,
/// 6–14 ms of the loop thread under the hostile benchmark. Even when the requests spent the budget, the
/// two sliced kinds advance a little each pass (a step of big gets, `slicedStepUnits`, and a least
/// list slice, `leastListedObjects`: ~0.1–0.2 ms, more when the waiter index misses the caches), and paused
/// connections that went without a turn in a pass are owed one request in the next, budget or not, so
/// that nothing starves: a pass does at most its budget and one request, or two when one is owed, and
/// one read of a big frame when one is owed (`PassPacing.bigFrameReadOwed`).
extension StoreServer {
    /// The least share of a pass for big gets: ids looked up (or unhooked, three to a unit), done while the
    /// pass is under `PassPacing.passNanoseconds`, a step at least.
    static let leastSlicedUnits = 128
    /// Sliced work between two readings of the clock. Small, because one id can cost a page fault (its
    /// entry lands in a page of the get's pending index or of the waiter index touched for the first
    /// time): steps of 64 made passes of 4-7 ms in sliced gets alone. When the clock has run out, a pass
    /// still does one step, so a big get then advances 16 ids a pass, not 64.
    static let slicedStepUnits = 16
    static let leastListedObjects = 256

    /// Once per pass, after the ready descriptors.
    func advanceDeferredWork() {
        pacing.inDeferredPhase = true
        defer {
            pacing.inDeferredPhase = false
            pacing.workDone = 0  // the next pass starts with a whole budget
            pacing.readBigFrame = false
            pacing.bigFrameReadOwed = pacing.bigFrameWentWithout
            pacing.bigFrameWentWithout = false
            pacing.deferredTurn &+= 1
        }
        for step in 0..<4 {
            switch (pacing.deferredTurn + step) % 4 {
            case 0: timed(\.slicedGets) { advanceSlicedWork() }
            case 1: timed(\.lists) { advanceListSlices() }
            case 2: timed(\.snapshots) { advanceArrowSnapshotSlices() }
            default: timed(\.paused) { resumePaused() }
            }
        }
    }

    private var budgetLeft: Int { max(0, PassPacing.passWork - pacing.workDone) }

    private func spend(_ units: Int) {
        pacing.workDone += units
        passMeter.work.deferredUnits += units
    }

    /// In steps of `slicedStepUnits`, until its share is done or the pass has run `PassPacing.passNanoseconds`:
    /// an id's cost varies tenfold and more with the waiter index's size (each lookup a cache and TLB
    /// miss) and whether its pages are new: 1.3 µs, or 7–80 µs under `plasma-bench hostile`, where a
    /// turn of 128 ids took up to 11 ms. So the clock, not the count, ends the turn.
    private func advanceSlicedWork() {
        guard engine.hasSlicedWork else { return }
        var share = max(Self.leastSlicedUnits, budgetLeft)
        repeat {
            let step = min(share, Self.slicedStepUnits)
            spend(engine.advanceSlicedWork(units: step))
            share -= step
        } while share > 0 && engine.hasSlicedWork && !passHasRunItsTime
        passMeter.work.slicedWork = true
    }

    private func advanceListSlices() {
        guard hasListBuilds else { return }
        let objects = advanceListBuilds(objects: max(Self.leastListedObjects, budgetLeft * PassPacing.listedObjectsPerUnit))
        spend((objects + PassPacing.listedObjectsPerUnit - 1) / PassPacing.listedObjectsPerUnit)
    }

    /// Arrow subscribe snapshots walked: their table slots cost like listed objects.
    private func advanceArrowSnapshotSlices() {
        guard !arrowSnapshotWalks.isEmpty else { return }
        let slots = advanceArrowSnapshotWalks(slots: max(Self.leastListedObjects, budgetLeft * PassPacing.listedObjectsPerUnit))
        spend((slots + PassPacing.listedObjectsPerUnit - 1) / PassPacing.listedObjectsPerUnit)
    }

    /// Paused connections, oldest first, while the budget lasts; one request at least when they went
    /// without a turn in the last pass.
    private func resumePaused() {
        guard !pacing.paused.isEmpty else {
            pacing.pausedWentWithout = false
            return
        }
        let owed = pacing.pausedWentWithout
        var resumedAny = false
        let waiting = pacing.paused
        pacing.paused = []  // those paused again as they run their frames join it, behind `kept`
        var kept: [Connection] = []
        defer { pacing.paused = kept + pacing.paused }
        for connection in waiting where !connection.isClosed {
            let mayRun = pacing.workDone < PassPacing.passWork || (owed && !resumedAny)
            if isWaitingForSlicedWork(connection) || !mayRun {
                kept.append(connection)  // still paused, ahead of those that ran: next pass
                continue
            }
            connection.framesPaused = false
            resumedAny = true
            passMeter.work.resumed += 1
            pacing.granted = connection  // runs its first request even over the budget (then pauses again)
            resumeFrames(connection)  // may pause it again
            pacing.granted = nil
        }
        pacing.pausedWentWithout = !resumedAny && kept.contains { !isWaitingForSlicedWork($0) }
    }
}
