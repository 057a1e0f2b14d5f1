import PlasmaCore
import PlasmaTestSupport
import Testing

@testable import PlasmaClient

/// Durations reach the library from user input (`get(timeout:)`, `waitForSpace:`, `--busy-poll`): none may
/// trap, whatever its size or sign, and each must keep its meaning (longer never means shorter).
@Suite struct DurationClampTests {
    static let extremes: [Duration] = [
        .zero, .nanoseconds(1), .nanoseconds(-1), .milliseconds(1), .seconds(-5),
        .seconds(100_000_000_000), .seconds(Int64.max), .seconds(Int64.min),
        .seconds(18_446_744_073), .seconds(18_446_744_074),  // around UInt64.max nanoseconds
        Duration(secondsComponent: Int64.max, attosecondsComponent: 999_999_999_999_999_999),
        Duration(secondsComponent: Int64.min, attosecondsComponent: -999_999_999_999_999_999),
    ]

    @Test(arguments: extremes)
    func clampedNanosecondsNeverTraps(duration: Duration) {
        let nanoseconds = duration.clampedNanoseconds
        if duration <= .zero { #expect(nanoseconds == 0) } else { #expect(nanoseconds > 0 || duration < .nanoseconds(1)) }
    }

    @Test func clampingSaturatesAtTheLongestCountableDuration() {
        #expect(Duration.seconds(100_000_000_000).clampedNanoseconds == .max)
        #expect(Duration.seconds(Int64.max).clampedNanoseconds == .max)
        #expect(Duration.seconds(18_446_744_073).clampedNanoseconds == 18_446_744_073_000_000_000)
        #expect(Duration.milliseconds(1500).clampedNanoseconds == 1_500_000_000)
    }

    @Test(arguments: extremes)
    func waitMillisecondsNeverTrapsAndKeepsItsMeaning(duration: Duration) {
        let milliseconds = Wait.timeout(duration).milliseconds
        // A timeout is never "forever" (-1) nor "don't wait" (0) on the wire: at least 1 ms.
        #expect(milliseconds >= 1)
    }

    /// Random durations (seeded): the wire milliseconds never decrease as the duration grows.
    @Test func waitMillisecondsAreMonotonic() {
        var random = SeededRandom(seed: 0xD0_2A71_0D)
        var samples: [Duration] = Self.extremes
        for _ in 0..<10_000 {
            let seconds = Int64(bitPattern: random.next()) >> Int64(random.next() % 64)
            let attoseconds = Int64(random.next() % 1_000_000_000_000_000_000)
            samples.append(Duration(secondsComponent: seconds, attosecondsComponent: seconds < 0 ? -attoseconds : attoseconds))
        }
        samples.sort()
        let wire = samples.map { Wait.timeout($0).milliseconds }
        for (shorter, longer) in zip(wire, wire.dropFirst()) { #expect(shorter <= longer) }
        let nanoseconds = samples.map(\.clampedNanoseconds)
        for (shorter, longer) in zip(nanoseconds, nanoseconds.dropFirst()) { #expect(shorter <= longer) }
    }
}
