import Glibc
import PlasmaPosix

/// The engine's two clocks, injectable so that tests control time.
public struct EngineClock: Sendable {
    /// Monotonic nanoseconds: deadlines and durations.
    public var monotonicNanoseconds: @Sendable () -> UInt64
    /// Nanoseconds since the Unix epoch: creation times shown to people.
    public var wallNanoseconds: @Sendable () -> Int64

    public init(
        monotonicNanoseconds: @escaping @Sendable () -> UInt64, wallNanoseconds: @escaping @Sendable () -> Int64
    ) {
        self.monotonicNanoseconds = monotonicNanoseconds
        self.wallNanoseconds = wallNanoseconds
    }

    public static let system = EngineClock(
        monotonicNanoseconds: { MonotonicClock.nanoseconds() },
        wallNanoseconds: { read(CLOCK_REALTIME) })

    private static func read(_ clock: clockid_t) -> Int64 {
        var time = timespec()
        clock_gettime(clock, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}
