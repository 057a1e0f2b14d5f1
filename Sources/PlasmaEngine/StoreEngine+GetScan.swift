import PlasmaCore

/// Gets of more than `Configuration.getSliceIDs` ids are looked up a slice at a time: a get of 65,536
/// ids took 100 ms or more of the loop in one go (hashing each id into three tables), and every other
/// client waited. Such a get waits from the start like a blocking get (it is in the wait table, found
/// objects are referenced as they are found, seals fill the positions already looked up) and is answered
/// through the observer once its last slice is done: at once if all were found or it won't wait,
/// otherwise when the rest is sealed or its timeout, counted from its arrival, passes.
///
/// Likewise a big wait that ends unanswered (cancelled, timed out with ids missing, its client gone) is
/// unhooked from the waiter index a slice at a time (WaitTable.unhookSome).
///
/// The server calls `advanceSlicedWork` once per loop pass while `hasSlicedWork`, and processes no
/// further request of a client while `isScanningGet(for:)` (its replies keep their order).
extension StoreEngine {
    func startGetScan(_ ids: [ObjectID], timeoutMilliseconds: Int64, key: WaitKey) -> GetOutcome {
        if waitingGets.contains(key) {
            return .failed(EngineError(.invalidRequest, "request id \(key.requestID) is already waiting"))
        }
        // Charged for all its ids up front: the ids and results are held from now on.
        if let refusal = refuseToWait(key, ids: ids.count, willWait: timeoutMilliseconds != 0) { return .failed(refusal) }
        var wait = GetWait(key: key, ids: ids)
        wait.timeoutMilliseconds = timeoutMilliseconds
        wait.startedAtNanoseconds = clock.monotonicNanoseconds()
        clients[key.client]!.waitingGets.insert(key.requestID)
        clients[key.client]!.scanningGets += 1
        waitingGets.add(wait)
        getScans.append(key)
        return .waiting
    }

    /// Some get is still being looked up, or a big wait unhooked: call `advanceSlicedWork` again soon.
    public var hasSlicedWork: Bool { !getScans.isEmpty || waitingGets.isUnhooking }

    /// One slice of each kind of sliced work: ids looked up for the gets being scanned, index entries
    /// of ended waits removed.
    public func advanceSlicedWork() {
        if !getScans.isEmpty { advanceGetScans(limit: configuration.getSliceIDs) }
        waitingGets.unhookSome(limit: configuration.getSliceIDs)
    }

    /// Sliced work worth about `units` (at least a little of each kind that waits), for a caller that
    /// shares one budget among all of a loop pass's work; returns the units done. An id looked up is a
    /// unit; removing an index entry costs about a third as much (perf, issue 13), so three are one.
    public func advanceSlicedWork(units: Int) -> Int {
        var done = 0
        if !getScans.isEmpty { done += advanceGetScans(limit: min(max(1, units), configuration.getSliceIDs)) }
        if waitingGets.isUnhooking {
            done += (waitingGets.unhookSome(limit: 3 * max(1, units - done)) + 2) / 3
        }
        return done
    }

    /// A get of `client` is still being looked up; its later requests should wait for it.
    public func isScanningGet(for client: ClientID) -> Bool { (clients[client]?.scanningGets ?? 0) > 0 }

    /// Looks up at most about `limit` ids (at least one) of the gets being scanned, a slice of each in
    /// turn; answers those whose scan ends complete or that won't wait. Returns the ids looked up.
    @discardableResult
    public func advanceGetScans(limit: Int) -> Int {
        var looked = 0  // ids looked up: the slices' sizes, or what was left of a get
        var remaining = max(1, limit)
        while remaining > 0, let key = getScans.popFirst() {
            // Gone (cancelled, its client left) or a new get under the same ticket: nothing to do. Only
            // figures are kept of it: a copy of the wait held across `scan` would make scan's first
            // change copy the wait's whole pending index (copy on write), at every step.
            guard let (scanned, count, pollsOnly) = waitingGets.waits[key].flatMap({ wait in
                wait.isScanning ? (wait.scanned, wait.ids.count, wait.timeoutMilliseconds == 0) : nil
            }) else { continue }
            let slice = min(remaining, configuration.getSliceIDs)
            remaining -= slice
            looked += min(slice, count - scanned)
            if external != nil {  // StoreEngine+External.swift
                let sliceIDs = Array(waitingGets.waits[key]!.ids[scanned..<min(count, scanned + slice)])
                spilledObjectsWanted(sliceIDs, synchronously: pollsOnly)
            }
            // The closures read the object table in place (a copy of it would be copied on the next write).
            guard let (found, wait) = waitingGets.scan(
                key, limit: slice,
                sealedSlot: { [unowned self] id in objects.slot(of: id).flatMap { objects[$0].state == .sealed ? $0 : nil } },
                location: { [unowned self] slot in objects[slot].location })
            else { continue }
            for slot in found { addReferences(1, at: slot, for: key.client) }
            if wait.isScanning {
                getScans.append(key)
            } else {
                scanEnded(wait)
            }
        }
        return looked
    }

    /// The last slice is looked up: answer now, or wait for the rest until the timeout.
    private func scanEnded(_ wait: GetWait) {
        let key = wait.key
        clients[key.client]?.scanningGets -= 1
        let elapsed = Int64(clamping: (clock.monotonicNanoseconds() &- wait.startedAtNanoseconds) / 1_000_000)
        let timeout = wait.timeoutMilliseconds
        if wait.isComplete || timeout == 0 || (timeout > 0 && elapsed >= timeout) {
            return finishWaitingGet(key)
        }
        waitingGets.setDeadline(addDeadline(after: timeout < 0 ? -1 : timeout - elapsed, kind: .get, key: key), of: key)
    }
}
