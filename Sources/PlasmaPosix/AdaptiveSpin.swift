/// How long to poll before sleeping in the kernel, learned from whether polling pays.
///
/// Polling saves a wake-up (tens of microseconds on a VM) when the awaited bytes come within the window;
/// it wastes the window, and worse, starves the peer we wait for when both share one core. So the window
/// doubles (up to the maximum) each time polling caught the work and halves each time it ran out; at
/// zero it stays off, except for one full-length probe every 64 sleeps, so that it comes back when the
/// machine frees up.
///
/// With `forgivesLoneMiss`, a miss after a long run of catches (`loneMissRun`) leaves the window as it is:
/// in a steady stream of requests one late request (a slow wake-up of the client) would otherwise halve a
/// window that fits the usual gap into one that misses it, and a few halvings later polling would be off
/// for 64 sleeps. Where misses are common (a loaded machine, where polling takes the core the client
/// needs) runs that long are rare, and the window shrinks as without it.
public struct AdaptiveSpin: Sendable {
    public let maximumNanoseconds: UInt64
    /// Whether a miss after `loneMissRun` catches in a row leaves the window as it is (see above).
    public let forgivesLoneMiss: Bool
    public private(set) var windowNanoseconds: UInt64
    private var sleepsUntilProbe = Self.probeInterval
    private var catchesInARow = 0
    private static let probeInterval = 64
    private static let floor: UInt64 = 1_000
    /// Catches in a row after which a miss counts as a lone one.
    public static let loneMissRun = 16

    public init(maximumNanoseconds: UInt64, forgivesLoneMiss: Bool = false) {
        self.maximumNanoseconds = maximumNanoseconds
        self.forgivesLoneMiss = forgivesLoneMiss
        windowNanoseconds = maximumNanoseconds
    }

    /// The work came while polling.
    public mutating func caught() {
        catchesInARow += 1
        windowNanoseconds = min(maximumNanoseconds, max(Self.floor, windowNanoseconds * 2))
    }

    /// The window ran out with nothing to show for it.
    public mutating func missed() {
        defer { catchesInARow = 0 }
        if forgivesLoneMiss, catchesInARow >= Self.loneMissRun { return }
        windowNanoseconds /= 2
        if windowNanoseconds < Self.floor { windowNanoseconds = 0 }
    }

    /// Slept without polling (the window is zero): every so often, try polling again.
    public mutating func sleptWithoutPolling() {
        guard windowNanoseconds == 0, maximumNanoseconds > 0 else { return }
        sleepsUntilProbe -= 1
        if sleepsUntilProbe == 0 {
            sleepsUntilProbe = Self.probeInterval
            windowNanoseconds = maximumNanoseconds
        }
    }
}
