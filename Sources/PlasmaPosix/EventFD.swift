import CPlasma
import Glibc
import SystemPackage

/// An eventfd that wakes an `Epoll` wait from another thread or a signal handler.
/// Nonblocking and close-on-exec. A value; closing is explicit.
public struct EventFD: Hashable, Sendable {
    public let rawValue: Int32

    /// The corresponding C function is `eventfd`.
    public init() throws(SystemError) {
        rawValue = try system_eventfd(0, CInt(EFD_CLOEXEC | EFD_NONBLOCK)).get("eventfd")
    }

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// Makes the fd readable. Async-signal-safe: one write of 8 bytes, errno preserved, no allocation.
    /// A full counter (EAGAIN) is already a pending wake-up, so errors are ignored.
    ///
    /// The corresponding C function is `write`.
    public func signal() {
        let saved = Glibc.errno
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { system_write(rawValue, $0) }
        Glibc.errno = saved
    }

    /// Resets the counter so the fd is no longer readable; nothing pending is fine.
    ///
    /// The corresponding C function is `read`.
    public func drain() {
        var counter: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &counter) { system_read(rawValue, $0) }
    }

    /// The corresponding C function is `close`.
    public func close() {
        _ = system_close(rawValue)
    }
}
