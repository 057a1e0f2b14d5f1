@testable import PlasmaEngine
@testable import PlasmaStore
import PlasmaPosix
import Testing

@Suite struct WarningRateLimitTests {
    @Test func theFirstFewOfAnIntervalAreLoggedAndTheRestCountedIntoTheNext() {
        var limit = WarningRateLimit(burst: 3, intervalNanoseconds: 1000)
        let first = (0..<5).map { limit.admit(now: UInt64(100 + $0)) }
        #expect(first.map(\.log) == [true, true, true, false, false])
        #expect(first.allSatisfy { $0.suppressedBefore == 0 })
        #expect(limit.admit(now: 1099) == (false, 0), "still the first interval")
        // The next interval's first line carries the count of the three held back.
        let next = limit.admit(now: 1100)
        #expect(next.log && next.suppressedBefore == 3)
        #expect(limit.takeSuppressed() == 0)
        _ = (0..<4).map { limit.admit(now: 1200 + UInt64($0)) }
        #expect(limit.takeSuppressed() == 2, "what a store stopping now would report")
        #expect(limit.admit(now: 5000) == (true, 0), "reported once only")
    }
}
