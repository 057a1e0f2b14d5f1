import Glibc

/// CLOCK_MONOTONIC in nanoseconds: deadlines and spin windows (a vDSO call, no syscall).
public enum MonotonicClock {
    /// The corresponding C function is `clock_gettime`.
    public static func nanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
