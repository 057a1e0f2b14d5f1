import PlasmaCore

extension StoreEngine {
    /// Answers at once with what is sealed when everything is there or the caller won't wait
    /// (`timeoutMilliseconds` 0); otherwise waits until the last id is sealed or the timeout passes
    /// (-1: never), then answers through the observer under `ticket` (a partial answer at the timeout).
    /// Each found object gives the client a reference, taken the moment it is found so that it can't be
    /// evicted while the rest of the get waits. Spilled objects are restored first.
    public func get(_ ids: [ObjectID], timeoutMilliseconds: Int64, client: ClientID, ticket: UInt64) -> GetOutcome {
        guard isConnected(client) else { return .failed(EngineError(.invalidRequest, "unknown client")) }
        let key = WaitKey(client: client, requestID: ticket)
        // Many ids: looked up a slice per loop pass, answered through the observer (StoreEngine+GetScan.swift).
        if ids.count > configuration.getSliceIDs { return startGetScan(ids, timeoutMilliseconds: timeoutMilliseconds, key: key) }
        if external != nil { spilledObjectsWanted(ids, synchronously: timeoutMilliseconds == 0) }
        var wait = GetWait(key: key, ids: ids)
        var foundSlots: [Int32] = []
        for (position, id) in ids.enumerated() {
            if let slot = objects.slot(of: id), objects[slot].state == .sealed {
                wait.results[position] = objects[slot].location
                foundSlots.append(slot)
            } else {
                wait.markWaiting(position)
            }
        }
        wait.scanned = ids.count
        // A ticket that is already waiting is refused even when this get would be answered at once:
        // answering it would drop the ticket from the client's books while the first get still waits,
        // and that orphaned wait would outlive the client (Fuzz/README.md, bug 1).
        if waitingGets.contains(key) {
            return .failed(EngineError(.invalidRequest, "request id \(key.requestID) is already waiting"))
        }
        let willWait = !wait.isComplete && timeoutMilliseconds != 0
        if willWait, let refusal = refuseToWait(key, ids: ids.count) { return .failed(refusal) }
        for slot in foundSlots { addReferences(1, at: slot, for: key.client) }
        guard willWait else { return .answered(wait.results.all) }
        clients[key.client]!.waitingGets.insert(key.requestID)
        wait.deadline = addDeadline(after: timeoutMilliseconds, kind: .get, key: key)
        waitingGets.add(wait)
        return .waiting
    }

    /// Checked last: a get the meter admits is charged, so nothing may refuse it afterwards.
    /// `willWait` false: a get of many ids that won't wait, held only while it is looked up in slices
    /// (StoreEngine+GetScan.swift); it is charged like a waiting one, but counted among the gets being
    /// looked up rather than the waiting ones.
    func refuseToWait(_ key: WaitKey, ids: Int, willWait: Bool = true) -> EngineError? {
        let client = clients[key.client]!
        if willWait, client.waitingGets.count >= configuration.maxWaitingGetsPerClient {
            return EngineError(.limitReached, "\(configuration.maxWaitingGetsPerClient) gets already waiting")
        }
        if !willWait, client.scanningGets >= configuration.maxWaitingGetsPerClient {
            return EngineError(.limitReached, "\(configuration.maxWaitingGetsPerClient) gets of many ids already being looked up")
        }
        if let refusal = waitMeter?.admit(.getIDs(ids), for: key.client) {
            return EngineError(.limitReached, "a get \(willWait ? "waiting on" : "of") \(ids) ids: \(refusal)")
        }
        return nil
    }

    /// A waiting get left the wait table (answered, timed out, cancelled, or its client left).
    func waitEnded(_ wait: GetWait) {
        clients[wait.key.client]?.waitingGets.remove(wait.key.requestID)
        if wait.isScanning { clients[wait.key.client]?.scanningGets -= 1 }
        waitMeter?.release(.getIDs(wait.ids.count), for: wait.key.client)
    }

    /// Answers a waiting get that has left the wait table.
    func answerWaitingGet(_ wait: GetWait) {
        waitEnded(wait)
        observer?.getAnswered(client: wait.key.client, ticket: wait.key.requestID, .success(wait.results.all))
    }

    /// Timeout: answer with what has been found so far.
    func finishWaitingGet(_ key: WaitKey) {
        guard let wait = waitingGets.remove(key) else { return }
        answerWaitingGet(wait)
    }

    /// Withdraws `client`'s waiting get (giving back what it had found) or waiting create under `ticket`;
    /// the observer hears it answered `cancelled`. Nothing happens when it isn't waiting (already answered).
    public func cancel(client: ClientID, ticket: UInt64) {
        let key = WaitKey(client: client, requestID: ticket)
        if let wait = waitingGets.remove(key) {
            waitEnded(wait)
            for position in wait.results.foundPositions { _ = release(wait.ids[position], client: key.client) }
            observer?.getAnswered(client: client, ticket: ticket, .failure(EngineError(.cancelled)))
        } else if let cancelled = waitingCreates.cancel(key) {
            clients[key.client]?.waitingCreates.remove(key.requestID)
            waitMeter?.release(cancelled.cost, for: key.client)
            observer?.createAnswered(client: client, ticket: ticket, sealing: cancelled.sealing, .failure(EngineError(.cancelled)))
            // FIX (unit tests): as for an expired create, the withdrawn one may have blocked the queue.
            serveWaitingCreates()
        }
    }

    // MARK: References

    func addReferences(_ count: Int, at slot: Int32, for client: ClientID) {
        let id = objects[slot].id
        var count = count
        // A client with `atMostOnePerObject` holds a set of objects, not a count.
        if clients[client]!.referencePolicy == .atMostOnePerObject {
            count = (clients[client]!.references[id] ?? 0) > 0 ? 0 : min(count, 1)
        }
        guard count > 0 else { return }
        if objects[slot].isEvictable { objects.unlinkEvictable(slot) }
        objects[slot].referenceCount += count
        clients[client]!.addReferences(count, to: id, size: objects[slot].totalSize)
    }

    /// Gives back `count` of the references `client` holds on `id`: `.notHeld` when it holds fewer.
    /// The last reference gone, the object is evictable (or deleted, when that was deferred).
    public func release(_ id: ObjectID, client: ClientID, count: Int = 1) -> PlasmaStatus {
        guard let held = clients[client]?.references[id], held >= count else { return .notHeld }
        guard let slot = objects.slot(of: id) else { return .objectNotFound }
        clients[client]!.dropReferences(count, to: id, size: objects[slot].totalSize)
        dropReferences(count, at: slot)
        serveWaitingCreates()
        return .ok
    }

    /// The last reference gone: a pending delete happens now, otherwise the object becomes evictable.
    func dropReferences(_ count: Int, at slot: Int32) {
        objects[slot].referenceCount -= count
        precondition(objects[slot].referenceCount >= 0, "reference count below zero")
        guard objects[slot].referenceCount == 0, objects[slot].state == .sealed else { return }
        if objects[slot].deletePending {
            removeObject(at: slot, .deleted)
            deletedObjects += 1
        } else {
            objects.linkEvictable(slot)
        }
    }
}
