import Glibc

/// The system's clocks. CLOCK_MONOTONIC, in nanoseconds, for deadlines and spin windows (a vDSO call,
/// no syscall): `MonotonicClock.nanoseconds()`. An instance is also the clock the store injects into
/// its engine (the server makes it the engine's `EngineClock`), which adds CLOCK_REALTIME for the
/// creation times shown to people.
public struct MonotonicClock: Sendable {
    /// The system's clocks; no state.
    public init() {}

    /// The corresponding C function is `clock_gettime(CLOCK_MONOTONIC)`.
    public static func nanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// `MonotonicClock.nanoseconds()`.
    public func monotonicNanoseconds() -> UInt64 { Self.nanoseconds() }

    /// Nanoseconds since the Unix epoch.
    ///
    /// The corresponding C function is `clock_gettime(CLOCK_REALTIME)`.
    public func wallNanoseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}
