import CPlasma
import Glibc
import SystemPackage

/// A CLOCK_MONOTONIC timerfd: makes an `Epoll` wait end at a nanosecond deadline (epoll's own timeout
/// counts whole milliseconds). Nonblocking and close-on-exec. A value; closing is explicit.
public struct TimerFD: Hashable, Sendable {
    /// The descriptor, for `Epoll`.
    public let rawValue: Int32

    /// The corresponding C function is `timerfd_create`.
    public init() throws(SystemError) {
        rawValue = try valueOrErrno { timerfd_create(CLOCK_MONOTONIC, CInt(TFD_CLOEXEC | TFD_NONBLOCK)) }.get("timerfd_create")
    }

    /// Fires once at `deadline` (`MonotonicClock.nanoseconds()`'s clock); 0 disarms. Failures (none are
    /// expected for a valid fd) leave it as it was: a missed pre-wake costs only the wake it would have saved.
    ///
    /// The corresponding C function is `timerfd_settime`.
    public func arm(at deadline: UInt64) {
        var spec = itimerspec()
        spec.it_value = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        _ = timerfd_settime(rawValue, CInt(TFD_TIMER_ABSTIME), &spec, nil)
    }

    /// Reads the expiry count so the fd is no longer readable; nothing pending is fine.
    ///
    /// The corresponding C function is `read`.
    public func drain() {
        var count: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &count) { system_read(rawValue, $0) }
    }

    /// The corresponding C function is `close`.
    public func close() {
        _ = system_close(rawValue)
    }
}
