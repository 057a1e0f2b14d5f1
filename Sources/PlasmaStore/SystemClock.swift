import Glibc
import PlasmaEngine
import PlasmaPosix

/// The machine's clocks, as the engine and the server read them.
final class SystemClock: EngineClock {
    func monotonicNanoseconds() -> UInt64 { MonotonicClock.nanoseconds() }

    func wallNanoseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}
