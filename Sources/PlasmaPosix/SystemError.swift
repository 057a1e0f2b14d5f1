import CPlasma
import SystemPackage

/// A failed system call: what was attempted and the `Errno` it failed with.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    /// The call and its subject, e.g. `bind(/tmp/x.sock)`.
    public let operation: String
    public let errno: Errno

    public init(operation: String, errno: Errno) {
        self.operation = operation
        self.errno = errno
    }

    /// `bind(/tmp/x.sock) failed: Address already in use (EADDRINUSE)`.
    ///
    /// The corresponding C functions are `strerror` and `strerrorname_np`.
    public var description: String {
        "\(operation) failed: \(errno) (\(errno.symbolicName))"
    }
}

extension Errno {
    /// `EPIPE` for `.brokenPipe`; `errno 42` when the C library has no name for it.
    ///
    /// The corresponding C function is `strerrorname_np`.
    public var symbolicName: String {
        guard let name = system_errno_name(rawValue) else { return "errno \(rawValue)" }
        return String(cString: name)
    }
}

extension Result where Failure == Errno {
    /// The value, or a `SystemError` naming `operation`.
    @inline(__always)
    func get(_ operation: @autoclosure () -> String) throws(SystemError) -> Success {
        switch self {
        case .success(let value): return value
        case .failure(let errno): throw SystemError(operation: operation(), errno: errno)
        }
    }

    /// Like `get`, but EAGAIN (a nonblocking call that would block) becomes nil.
    @inline(__always)
    func unlessWouldBlock(_ operation: @autoclosure () -> String) throws(SystemError) -> Success? {
        if case .failure(let errno) = self, errno == .wouldBlock { return nil }
        return try get(operation())
    }
}
