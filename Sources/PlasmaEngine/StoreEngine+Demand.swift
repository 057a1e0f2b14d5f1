import PlasmaCore

/// Local demand, for a cluster (docs/CLUSTER.md): an id has demand while a get that may wait (timeout
/// other than 0, native or Arrow) waits for it and it is absent here — not in the table (sealed or
/// being created) and not spilled. A poll (timeout 0) never waits, so it stays local.
///
/// The wait table notes the ids that gained their first waiter or lost their last one; creates, aborts
/// and spill drops note theirs; `takeDemandChanges` (once per loop pass) settles every noted id against
/// the books and reports what changed, so that a demand that begins and ends in one pass costs the
/// directory nothing. Without a cluster nothing is noted (the wait table's set is nil).
extension StoreEngine {
    /// Whether `id` has local demand now: a get that may wait waits for it and it is absent.
    public func hasDemand(for id: ObjectID) -> Bool {
        waitingGets.isWaited(for: id) && !isKnown(id)
    }

    /// Ids noted since the last call whose demand may have changed.
    public var hasDemandChanges: Bool { !(waitingGets.touched?.isEmpty ?? true) }

    /// The ids whose demand began and ended since the last call (each settled against the books now:
    /// one that began and ended in between is in neither). Empty without a cluster.
    public func takeDemandChanges() -> (began: [ObjectID], ended: [ObjectID]) {
        guard let cluster, let touched = waitingGets.touched, !touched.isEmpty else { return ([], []) }
        waitingGets.touched = []
        var began: [ObjectID] = []
        var ended: [ObjectID] = []
        for id in touched {
            let wanted = hasDemand(for: id)
            if wanted, cluster.demanded.insert(id).inserted { began.append(id) }
            if !wanted, cluster.demanded.remove(id) != nil { ended.append(id) }
        }
        return (began, ended)
    }

    /// An id appeared in the table (created, or a pulled copy reserved): its demand, if any, ends.
    func demandMayEnd(_ id: ObjectID) {
        guard let cluster, !cluster.demanded.isEmpty, cluster.demanded.contains(id) else { return }
        waitingGets.touched?.insert(id)
    }

    /// An id left the table unsealed (aborted) or was dropped from the spill store: gets still waiting
    /// for it make it wanted again.
    func demandMayBegin(_ id: ObjectID) {
        guard cluster != nil, waitingGets.isWaited(for: id) else { return }
        waitingGets.touched?.insert(id)
    }
}
