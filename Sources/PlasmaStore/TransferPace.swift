/// Pre-wake: when the store hands a client a large block to fill (a create's reply) or to read (a get's
/// reply), that client's next request (the seal, the release) comes when its copy is done, milliseconds
/// later: long after the event loop's ordinary busy-poll window (AdaptiveSpin) has given up and the store
/// has gone to sleep, so the request then pays a sleeping store's wake (about a millisecond on a VM).
/// This learns how fast clients copy (nanoseconds per byte, one estimate for writes, one for reads) from
/// the gap between such a reply and that connection's next frame, and arms an expectation: wake a little
/// before the copy should end and poll until a little after. Polling is bounded (`maximumPollNanoseconds`
/// per expectation, one expectation at a time), so its cost is at most that much CPU per large transfer.
///
/// Pure arithmetic on times the caller passes; the server holds one and each connection its `Pending`,
/// and a timerfd wakes the loop at `wakeAt` (epoll's timeout counts whole milliseconds: too coarse).
struct TransferPace {
    enum Phase: Int { case write = 0, read = 1 }

    /// A large reply whose connection's next frame will time the copy.
    struct Pending: Equatable {
        var bytes: Int
        var phase: Phase
        var repliedAt: UInt64
    }

    /// When to stop sleeping (`wakeAt`) and until when to poll (`pollUntil`).
    struct Expectation: Equatable {
        var wakeAt: UInt64
        var pollUntil: UInt64
    }

    /// Replies smaller than this take too little time to be worth anticipating.
    static let thresholdBytes = 1 << 20
    /// Never poll longer than this for one expectation, however long the copy.
    static let maximumPollNanoseconds: UInt64 = 4_000_000
    /// Paces slower than this (100 MB/s) are not a copy but a client doing something else.
    static let slowestPace = 10.0
    /// A sample this many times the estimate is a client that held the buffer: not a copy's pace.
    static let outlierFactor = 4.0
    /// After this many outliers in a row, the clients really did slow down: start over from the latest.
    static let outliersBeforeReset = 4

    private var paces: [Double?] = [nil, nil]
    private var outliers = [0, 0]
    private(set) var expectation: Expectation?
    /// Expectations armed since start (for `stats`, and tests).
    private(set) var armed = 0

    /// The estimate for `phase`, nanoseconds per byte; nil before the first sample.
    func pace(_ phase: Phase) -> Double? { paces[phase.rawValue] }

    /// A reply of `bytes` for `phase` was queued at `now`: returns what its connection should remember
    /// (nil when too small), and arms an expectation if the phase has an estimate.
    mutating func replied(bytes: Int, phase: Phase, now: UInt64) -> Pending? {
        guard bytes >= Self.thresholdBytes else { return nil }
        if let pace = paces[phase.rawValue] { expect(now + UInt64(Double(bytes) * pace), now: now) }
        return Pending(bytes: bytes, phase: phase, repliedAt: now)
    }

    /// The connection that had `pending` sent its next frame at `now`: one sample of its phase's pace.
    mutating func nextFrame(after pending: Pending, now: UInt64) {
        guard now > pending.repliedAt, pending.bytes > 0 else { return }
        let sample = Double(now - pending.repliedAt) / Double(pending.bytes)
        guard sample <= Self.slowestPace else { return }
        let index = pending.phase.rawValue
        guard let estimate = paces[index] else {
            paces[index] = sample
            return
        }
        if sample > estimate * Self.outlierFactor {
            outliers[index] += 1
            guard outliers[index] >= Self.outliersBeforeReset else { return }
            paces[index] = sample
        } else {
            // An exponential average, quicker down than up: a frame that came while the store slept was
            // timed through the store's wake, so a slow sample may be the wake's; a fast one is the copy's.
            paces[index] = estimate + (sample - estimate) / (sample < estimate ? 2 : 8)
        }
        outliers[index] = 0
    }

    /// The copy should end at `end`: wake a lead before it (what a late estimate costs: it was measured
    /// through a sleeping store's wake) and poll a slack after it, both in proportion to the copy, within
    /// `maximumPollNanoseconds` in all. Keeps one expectation: a pending one merges with the new one.
    private mutating func expect(_ end: UInt64, now: UInt64) {
        let duration = end - now
        let margin = min(Self.maximumPollNanoseconds / 2, 100_000 + duration / 16)
        var next = Expectation(wakeAt: max(now, end - min(margin, duration)), pollUntil: end + margin)
        if let current = expectation, current.pollUntil > now {
            next.wakeAt = min(current.wakeAt, next.wakeAt)
            next.pollUntil = max(current.pollUntil, next.pollUntil)
        }
        next.pollUntil = min(next.pollUntil, next.wakeAt + Self.maximumPollNanoseconds)
        expectation = next
        armed += 1
    }

    /// The awaited frame came (or the window is over): sleep normally again.
    mutating func fulfilled() { expectation = nil }

    /// Whether the loop should poll at `now` (between the wake and the end of the window); an
    /// expectation whose window is over is dropped. Before the wake, the caller's timer sleeps for it.
    mutating func polls(now: UInt64) -> Bool {
        guard let expectation else { return false }
        if now >= expectation.pollUntil {
            self.expectation = nil
            return false
        }
        return now >= expectation.wakeAt
    }
}
