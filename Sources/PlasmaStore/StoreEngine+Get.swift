import PlasmaCore
import PlasmaWire

extension StoreEngine {
    /// Answers at once with what is sealed when everything is there or the caller won't wait; otherwise
    /// waits in the store until the last id is sealed or the timeout passes (then a partial answer).
    /// Each found object gives the client one reference, taken the moment it is found so that it can't
    /// be evicted while the rest of the get waits.
    func get(_ ids: [ObjectID], timeout: Int64, key: WaitKey) {
        if external != nil { restoreSpilled(ids) }  // StoreEngine+External.swift
        var wait = GetWait(key: key, ids: ids, results: [ObjectLocation?](repeating: nil, count: ids.count))
        var foundSlots: [Int32] = []
        for (position, id) in ids.enumerated() {
            if let slot = objects.slot(of: id), objects[slot].state == .sealed {
                wait.results[position] = objects[slot].location
                foundSlots.append(slot)
            } else {
                wait.markWaiting(position)
            }
        }
        let missing = ids.count - foundSlots.count
        // A request id that is already waiting is refused even when this get would be answered at
        // once: answering it would drop the id from the client's books while the first get still
        // waits, and that orphaned wait would outlive the client (Fuzz/README.md, bug 1).
        if waitingGets.contains(key) {
            let refusal = fail(.invalidRequest, "request id \(key.requestID) is already waiting")
            return reply(key.client, key.requestID, .get, refusal)
        }
        let willWait = !wait.isComplete && timeout != 0
        if willWait, let refusal = refuseToWait(key, ids: ids.count) {
            return reply(key.client, key.requestID, .get, refusal)
        }
        for slot in foundSlots { addReferences(1, at: slot, for: key.client) }
        guard willWait else { return replyToGet(wait, waited: false) }
        clients[key.client]!.waitingGets.insert(key.requestID)
        wait.deadline = addDeadline(after: timeout, kind: .get, key: key)
        waitingGets.add(wait)
    }

    /// Checked last: a get the meter admits is charged, so nothing may refuse it afterwards.
    private func refuseToWait(_ key: WaitKey, ids: Int) -> Reply? {
        if clients[key.client]!.waitingGets.count >= configuration.maxWaitingGetsPerClient {
            return fail(.limitReached, "\(configuration.maxWaitingGetsPerClient) gets already waiting")
        }
        if let refusal = waitMeter?.admit(.getIDs(ids), for: key.client) {
            return fail(.limitReached, "a get waiting on \(ids) ids: \(refusal)")
        }
        return nil
    }

    /// A waiting get left the wait table (answered, timed out, cancelled, or its client left).
    func waitEnded(_ wait: GetWait) {
        clients[wait.key.client]?.waitingGets.remove(wait.key.requestID)
        waitMeter?.release(.getIDs(wait.ids.count), for: wait.key.client)
    }

    /// Answers a get; a waiting one must have left the wait table already.
    func replyToGet(_ wait: GetWait, waited: Bool = true) {
        if waited { waitEnded(wait) }
        reply(wait.key.client, wait.key.requestID, .get, .objects(wait.results))
    }

    /// Timeout: answer with what has been found so far.
    func finishWaitingGet(_ key: WaitKey) {
        guard let wait = waitingGets.remove(key) else { return }
        replyToGet(wait)
    }

    /// Withdraws a waiting get (giving back what it had found) or a waiting create; the withdrawn
    /// request is answered `cancelled`. Nothing happens when it isn't waiting (already answered).
    func cancel(_ key: WaitKey) {
        if let wait = waitingGets.remove(key) {
            waitEnded(wait)
            for (position, id) in wait.ids.enumerated() where wait.results[position] != nil {
                _ = release(id, by: key.client)
            }
            reply(key.client, key.requestID, .get, fail(.cancelled))
        } else if let cancelled = waitingCreates.cancel(key) {
            clients[key.client]?.waitingCreates.remove(key.requestID)
            waitMeter?.release(cancelled.cost, for: key.client)
            reply(key.client, key.requestID, cancelled.type, fail(.cancelled))
            // FIX (unit tests): as for an expired create, the withdrawn one may have blocked the queue.
            serveWaitingCreates()
        }
    }

    // MARK: References

    func addReferences(_ count: Int, at slot: Int32, for client: ClientID) {
        // Arrow clients hold at most one reference per object (StoreEngine+Arrow.swift).
        let count = arrow.clients.isEmpty ? count : arrowReferencesToAdd(count, at: slot, for: client)
        guard count > 0 else { return }
        if objects[slot].isEvictable { objects.unlinkEvictable(slot) }
        objects[slot].referenceCount += count
        clients[client]!.addReferences(count, to: objects[slot].id, size: objects[slot].totalSize)
    }

    func release(_ id: ObjectID, by client: ClientID, count: Int = 1) -> PlasmaStatus {
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
