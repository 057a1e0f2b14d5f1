@testable import PlasmaStore
import Testing

/// Pre-wake's arithmetic with fake times (nanoseconds): what it learns and when it wakes the loop.
@Suite struct TransferPaceTests {
    static let mib64 = 64 << 20
    /// 0.1 ns per byte: 64 MiB in about 6.7 ms.
    static let copy64: UInt64 = 6_710_886

    @Test func smallRepliesAreNotAnticipated() {
        var pace = TransferPace()
        #expect(pace.replied(bytes: TransferPace.thresholdBytes - 1, phase: .write, now: 0) == nil)
        #expect(pace.expectation == nil)
    }

    @Test func theFirstLargeReplyOnlyMeasures() {
        var pace = TransferPace()
        let pending = pace.replied(bytes: Self.mib64, phase: .write, now: 1_000)
        #expect(pending == .init(bytes: Self.mib64, phase: .write, repliedAt: 1_000))
        #expect(pace.expectation == nil, "no estimate yet: nothing to expect")
        pace.nextFrame(after: pending!, now: 1_000 + Self.copy64)
        #expect(abs(pace.pace(.write)! - 0.1) < 0.001)
        #expect(pace.pace(.read) == nil, "phases learn apart")
    }

    @Test func anEstimateArmsAWakeBeforeTheCopyEndsAndPollsBoundedAfter() throws {
        var pace = TransferPace()
        pace.nextFrame(after: .init(bytes: Self.mib64, phase: .read, repliedAt: 0), now: Self.copy64)
        let start: UInt64 = 100_000_000
        _ = pace.replied(bytes: Self.mib64, phase: .read, now: start)
        let expectation = try #require(pace.expectation)
        let end = start + Self.copy64
        #expect(expectation.wakeAt < end && expectation.wakeAt > start)
        #expect(expectation.pollUntil > end)
        #expect(expectation.pollUntil - expectation.wakeAt <= TransferPace.maximumPollNanoseconds)
        // Sleeps until the wake, then polls until the window ends, then forgets it.
        let beforeWake = pace.polls(now: expectation.wakeAt - 1)
        let atWake = pace.polls(now: expectation.wakeAt)
        let beforeEnd = pace.polls(now: expectation.pollUntil - 1)
        let atEnd = pace.polls(now: expectation.pollUntil)
        #expect(!beforeWake && atWake && beforeEnd && !atEnd)
        #expect(pace.expectation == nil)
        #expect(pace.armed == 1)
    }

    @Test func theAwaitedFrameEndsThePolling() {
        var pace = TransferPace()
        pace.nextFrame(after: .init(bytes: Self.mib64, phase: .write, repliedAt: 0), now: Self.copy64)
        let pending = pace.replied(bytes: Self.mib64, phase: .write, now: 1_000_000_000)!
        pace.nextFrame(after: pending, now: 1_000_000_000 + Self.copy64)
        pace.fulfilled()
        let after = pace.polls(now: 1_000_000_000 + Self.copy64)
        #expect(!after && pace.expectation == nil)
    }

    @Test func aGigabyteCopyPollsNoLongerThanTheBound() throws {
        var pace = TransferPace()
        pace.nextFrame(after: .init(bytes: 1 << 30, phase: .write, repliedAt: 0), now: 107_374_182)
        _ = pace.replied(bytes: 1 << 30, phase: .write, now: 1_000_000_000)
        let expectation = try #require(pace.expectation)
        #expect(expectation.pollUntil - expectation.wakeAt <= TransferPace.maximumPollNanoseconds)
        #expect(expectation.wakeAt > 1_000_000_000 + 100_000_000, "sleeps through most of a 107 ms copy")
    }

    @Test func aClientHoldingItsBufferDoesNotSlowTheEstimate() {
        var pace = TransferPace()
        pace.nextFrame(after: .init(bytes: Self.mib64, phase: .read, repliedAt: 0), now: Self.copy64)
        // Held for a minute: beyond the slowest pace, ignored outright.
        pace.nextFrame(after: .init(bytes: Self.mib64, phase: .read, repliedAt: 0), now: 60_000_000_000)
        // Held for 10x the copy: an outlier, ignored while rare.
        for _ in 0..<(TransferPace.outliersBeforeReset - 1) {
            pace.nextFrame(after: .init(bytes: Self.mib64, phase: .read, repliedAt: 0), now: 10 * Self.copy64)
        }
        #expect(abs(pace.pace(.read)! - 0.1) < 0.001)
        // An ordinary sample in between resets the count of outliers.
        pace.nextFrame(after: .init(bytes: Self.mib64, phase: .read, repliedAt: 0), now: Self.copy64)
        pace.nextFrame(after: .init(bytes: Self.mib64, phase: .read, repliedAt: 0), now: 10 * Self.copy64)
        #expect(abs(pace.pace(.read)! - 0.1) < 0.001)
    }

    @Test func aLastingSlowdownIsAdoptedAfterSeveralOutliers() {
        var pace = TransferPace()
        pace.nextFrame(after: .init(bytes: Self.mib64, phase: .write, repliedAt: 0), now: Self.copy64)
        for _ in 0..<TransferPace.outliersBeforeReset {
            pace.nextFrame(after: .init(bytes: Self.mib64, phase: .write, repliedAt: 0), now: 10 * Self.copy64)
        }
        #expect(abs(pace.pace(.write)! - 1.0) < 0.01)
    }

    @Test func samplesAverageTowardsTheLatestQuickerDownThanUp() {
        var pace = TransferPace()
        pace.nextFrame(after: .init(bytes: Self.mib64, phase: .write, repliedAt: 0), now: Self.copy64)
        pace.nextFrame(after: .init(bytes: Self.mib64, phase: .write, repliedAt: 0), now: 2 * Self.copy64)
        #expect(abs(pace.pace(.write)! - 0.1125) < 0.001, "an eighth of the way up to 0.2")
        pace.nextFrame(after: .init(bytes: Self.mib64, phase: .write, repliedAt: 0), now: Self.copy64 / 2)
        #expect(abs(pace.pace(.write)! - 0.08125) < 0.001, "half of the way down to 0.05")
    }

    @Test func overlappingExpectationsMergeWithinTheBound() throws {
        var pace = TransferPace()
        pace.nextFrame(after: .init(bytes: Self.mib64, phase: .write, repliedAt: 0), now: Self.copy64)
        _ = pace.replied(bytes: Self.mib64, phase: .write, now: 1_000_000_000)
        let first = try #require(pace.expectation)
        _ = pace.replied(bytes: Self.mib64, phase: .write, now: 1_002_000_000)
        let merged = try #require(pace.expectation)
        #expect(merged.wakeAt == first.wakeAt, "the earliest wake is kept")
        #expect(merged.pollUntil > first.pollUntil)
        #expect(merged.pollUntil - merged.wakeAt <= TransferPace.maximumPollNanoseconds)
    }
}
