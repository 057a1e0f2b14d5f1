/// Lets through at most `burst` lines per second of one kind, and says how many it held back when it
/// lets the next one through: a flood of misbehaving clients can't flood the log, and nothing vanishes
/// without a trace.
struct LogRateLimiter {
    let burst: Int
    private var windowStart: UInt64 = 0
    private var sentInWindow = 0
    private var suppressed = 0

    init(burst: Int = 20) { self.burst = burst }

    /// nil: suppress this line. Otherwise log it, with the count of lines suppressed since the last one.
    mutating func admit(now: UInt64) -> Int? {
        if now &- windowStart >= 1_000_000_000 {
            windowStart = now
            sentInWindow = 0
        }
        guard sentInWindow < burst else {
            suppressed += 1
            return nil
        }
        sentInWindow += 1
        defer { suppressed = 0 }
        return suppressed
    }
}
