import PlasmaEngine

/// A clock the tests move by hand (the engine's injected clock).
final class TestClock: EngineClock {
    private var monotonic: UInt64 = 1_000_000_000
    private var wall: Int64 = 1_700_000_000_000_000_000

    func monotonicNanoseconds() -> UInt64 { monotonic }
    func wallNanoseconds() -> Int64 { wall }

    func advance(milliseconds: Int64) { advance(nanoseconds: UInt64(milliseconds) * 1_000_000) }

    func advance(nanoseconds: UInt64) {
        monotonic += nanoseconds
        wall += Int64(nanoseconds)
    }
}
