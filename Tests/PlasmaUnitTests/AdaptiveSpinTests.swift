import PlasmaPosix
import Testing

/// The polling window's rules (AdaptiveSpin): doubling on a catch, halving on a miss, off below 1 µs with
/// a full probe every 64 sleeps, and the store's forgiving variant, which keeps the window over a lone late
/// request in a stream that polling otherwise catches, and shrinks it as the plain one where misses are common.
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

    @Test func theForgivingWindowKeepsItsLengthOverALoneMissAfterALongRunOfCatches() {
        var spin = AdaptiveSpin(maximumNanoseconds: Self.maximum, forgivesLoneMiss: true)
        for _ in 0..<10 {  // a steady stream with a late request now and then
            for _ in 0..<AdaptiveSpin.loneMissRun { spin.caught() }
            spin.missed()
            #expect(spin.windowNanoseconds == Self.maximum)
        }
        spin.missed()  // a second miss in a row is not a lone one
        #expect(spin.windowNanoseconds == 25_000)
    }

    @Test func theForgivingWindowShrinksAsTheOtherWhereMissesAreCommon() {
        var forgiving = AdaptiveSpin(maximumNanoseconds: Self.maximum, forgivesLoneMiss: true)
        var plain = AdaptiveSpin(maximumNanoseconds: Self.maximum)
        // A loaded machine: a miss every few catches, never a run long enough to forgive.
        for round in 0..<50 {
            for _ in 0..<(round % AdaptiveSpin.loneMissRun) {
                forgiving.caught()
                plain.caught()
            }
            forgiving.missed()
            plain.missed()
            #expect(forgiving.windowNanoseconds == plain.windowNanoseconds)
        }
        // Probes too: polling off, a probe after 64 sleeps, and its miss halves the window.
        for _ in 0..<7 { forgiving.missed() }
        #expect(forgiving.windowNanoseconds == 0)
        for _ in 0..<64 { forgiving.sleptWithoutPolling() }
        #expect(forgiving.windowNanoseconds == Self.maximum)
        forgiving.missed()
        #expect(forgiving.windowNanoseconds == 25_000)
    }
}
