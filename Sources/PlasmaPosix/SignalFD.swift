import CPlasma
import Glibc
import SystemPackage

/// A signalfd for signals such as SIGTERM and SIGINT: they stop interrupting the process and instead make
/// this fd readable, so an `Epoll` loop handles them like any other event. Nonblocking, close-on-exec.
public struct SignalFD: Hashable, Sendable {
    public let rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// Blocks `signals` in the calling thread and returns an fd that becomes readable when one arrives.
    ///
    /// A signal reaches the signalfd only while every thread blocks it; a thread that doesn't would take
    /// the default action (death, for SIGTERM). Threads inherit the mask of the thread that creates them,
    /// so call this from the main thread before starting any other thread.
    ///
    /// The corresponding C functions are `pthread_sigmask` and `signalfd`.
    public static func open(signals: [Int32]) throws(SystemError) -> SignalFD {
        var mask = sigset_t()
        sigemptyset(&mask)
        for signal in signals {
            if sigaddset(&mask, signal) != 0 {
                throw SystemError(operation: "sigaddset(\(signal))", errno: .invalidArgument)
            }
        }
        _ = try system_pthread_sigmask(SIG_BLOCK, &mask).get("pthread_sigmask(SIG_BLOCK)")
        let fd = try system_signalfd(&mask, CInt(SFD_CLOEXEC | SFD_NONBLOCK)).get("signalfd")
        return SignalFD(rawValue: fd)
    }

    /// The next pending signal's number, or nil when none is pending.
    ///
    /// The corresponding C function is `read`.
    public func readSignal() -> Int32? {
        var info = signalfd_siginfo()
        let result = withUnsafeMutableBytes(of: &info) { system_read(rawValue, $0) }
        guard case .success(let count) = result, count == MemoryLayout<signalfd_siginfo>.size else { return nil }
        return Int32(bitPattern: info.ssi_signo)
    }

    /// The corresponding C function is `close`.
    public func close() {
        _ = system_close(rawValue)
    }
}
