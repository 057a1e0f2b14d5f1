import HeapModule

extension StoreEngine {
    /// Whether a heap entry still belongs to a waiting get or create. A wait that ended early (answered,
    /// cancelled, its client gone) leaves its entry behind, since a heap can't remove from the middle;
    /// the wait remembers its own deadline, so a stale entry is one that no wait claims.
    func isLive(_ deadline: Deadline) -> Bool {
        switch deadline.kind {
        case .get: waitingGets.deadline(of: deadline.key) == deadline.nanoseconds
        case .create: waitingCreates.deadline(of: deadline.key) == deadline.nanoseconds
        }
    }

    /// Rebuilds the heap without its stale entries once they could outnumber the live ones. Otherwise
    /// each stale entry stays until its timeout: a get waiting up to an hour and answered at once holds
    /// its entry for the hour, and memory grows with the rate of waits instead of with the waits in
    /// progress (`plasma-bench soak` found it). Call before adding a deadline, while every live wait
    /// is registered. Amortised O(1) per deadline added.
    func dropStaleDeadlinesIfMany() {
        let live = waitingGets.count + waitingCreates.count  // an upper bound on live entries
        guard deadlines.count > 2 * live + 64 else { return }
        deadlines = Heap(deadlines.unordered.filter(isLive))
    }
}
