import PlasmaPosix
import Testing

/// The polling window's rules (AdaptiveSpin): doubling on a catch, halving on a miss, off below 1 µs with
/// a full probe every 64 sleeps, and the store's forgiving variant, which keeps the window over one late
/// request in a stream that polling otherwise catches.
@Suite struct AdaptiveSpinTests {
    static let maximum: UInt64 = 50_000

    @Test func missesHalveTheWindowUntilItIsOffAndAProbeEvery64SleepsBringsItBack() {
        var spin = AdaptiveSpin(maximumNanoseconds: Self.maximum)
        spin.missed()
        #expect(spin.windowNanoseconds == 25_000)
        for _ in 0..<5 { spin.missed() }  // 12.5, 6.25, 3.125, 1.5625 µs, then below 1 µs: off
        #expect(spin.windowNanoseconds == 0)
        for _ in 0..<63 { spin.sleptWithoutPolling() }
        #expect(spin.windowNanoseconds == 0)
        spin.sleptWithoutPolling()
        #expect(spin.windowNanoseconds == Self.maximum)
    }

    @Test func catchesDoubleTheWindowUpToTheMaximum() {
        var spin = AdaptiveSpin(maximumNanoseconds: Self.maximum)
        spin.missed()
        spin.missed()
        #expect(spin.windowNanoseconds == 12_500)
        spin.caught()
        #expect(spin.windowNanoseconds == 25_000)
        spin.caught()
        spin.caught()
        #expect(spin.windowNanoseconds == Self.maximum)
    }

    @Test func theForgivingWindowKeepsItsLengthOverOneMissBetweenCatches() {
        var spin = AdaptiveSpin(maximumNanoseconds: Self.maximum, forgivesFirstMiss: true)
        for _ in 0..<100 {  // a steady stream with a late request now and then
            spin.caught()
            spin.missed()
            #expect(spin.windowNanoseconds == Self.maximum)
        }
    }

    @Test func theForgivingWindowStillTurnsOffWhenPollingKeepsMissing() {
        var spin = AdaptiveSpin(maximumNanoseconds: Self.maximum, forgivesFirstMiss: true)
        spin.missed()
        #expect(spin.windowNanoseconds == Self.maximum)
        spin.missed()
        #expect(spin.windowNanoseconds == 25_000)
        for _ in 0..<5 { spin.missed() }
        #expect(spin.windowNanoseconds == 0)
        // The probe's window is not forgiven its first miss: polling stayed off since the last catch.
        for _ in 0..<64 { spin.sleptWithoutPolling() }
        #expect(spin.windowNanoseconds == Self.maximum)
        spin.missed()
        #expect(spin.windowNanoseconds == 25_000)
    }
}
