/// Lets the first `burst` warnings of each interval through and counts the rest, so that a failing
/// disk (or a client provoking failures) can't flood the log. The count of the ones held back comes
/// out with the first line of the next interval, or at the end (`takeSuppressed`); nothing is lost
/// either way, since what is warned about is counted in `stats` too. Used by the store and the transfer
/// plane alike.
public struct WarningRateLimit: Sendable {
    /// Warnings let through per interval.
    public let burst: Int
    /// The interval's length.
    public let intervalNanoseconds: UInt64
    private var intervalStart: UInt64?
    private var logged = 0
    private var suppressed = 0

    /// A limit of `burst` warnings per `intervalNanoseconds`.
    public init(burst: Int, intervalNanoseconds: UInt64) {
        self.burst = burst
        self.intervalNanoseconds = intervalNanoseconds
    }

    /// Whether to log the warning happening `now`; when it is the first of a new interval, also how
    /// many were held back in the last one.
    public mutating func admit(now: UInt64) -> (log: Bool, suppressedBefore: Int) {
        var suppressedBefore = 0
        if intervalStart.map({ now &- $0 >= intervalNanoseconds }) ?? true {
            suppressedBefore = suppressed
            (intervalStart, logged, suppressed) = (now, 0, 0)
        }
        guard logged < burst else {
            suppressed += 1
            return (false, 0)
        }
        logged += 1
        return (true, suppressedBefore)
    }

    /// The warnings held back and not yet reported, which are then forgotten.
    public mutating func takeSuppressed() -> Int {
        defer { suppressed = 0 }
        return suppressed
    }
}
