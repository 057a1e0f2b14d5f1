/// Lets the first `burst` warnings of each interval through and counts the rest, so that a peer that
/// keeps failing the handshake can't flood the log; the count held back comes out with the next line
/// let through. (The same rule as the store's WarningRateLimit, which this target can't reach.)
struct WarningLimit {
    let burst: Int
    let intervalNanoseconds: UInt64
    private var intervalStart: UInt64?
    private var logged = 0
    private var suppressed = 0

    init(burst: Int, intervalNanoseconds: UInt64) {
        self.burst = burst
        self.intervalNanoseconds = intervalNanoseconds
    }

    /// Whether to log the warning happening `now`, and how many were held back before it.
    mutating func admit(now: UInt64) -> (log: Bool, suppressedBefore: Int) {
        if intervalStart.map({ now &- $0 >= intervalNanoseconds }) ?? true {
            (intervalStart, logged) = (now, 0)
        }
        guard logged < burst else {
            suppressed += 1
            return (false, 0)
        }
        logged += 1
        defer { suppressed = 0 }
        return (true, suppressed)
    }
}
