import CPlasma
import Glibc

/// The listening socket a service manager passed in, as `sd_listen_fds(3)` finds it, without libsystemd.
///
/// With socket activation (a `.socket` unit, or `systemd-socket-activate`), the manager binds the socket
/// itself and starts the daemon with it open as descriptor 3, `$LISTEN_FDS` the count and `$LISTEN_PID`
/// the daemon's pid (a variable meant for another process, inherited by mistake, is ignored). The store
/// takes exactly one: an AF_UNIX stream socket that already listens.
public enum SocketActivation {
    /// Why the passed descriptors can't be used.
    public enum Failure: Error, CustomStringConvertible, Sendable {
        /// `$LISTEN_FDS` is not a number, or not 1.
        case count(String)
        /// The descriptor is not an AF_UNIX stream socket that listens.
        case notAListener(descriptor: Int32, SystemError)

        /// One line for the log, naming the unit setting to fix.
        public var description: String {
            switch self {
            case .count(let value):
                "socket activation passed LISTEN_FDS=\(value); the store takes exactly one socket (one ListenStream= in the .socket unit)"
            case .notAListener(let descriptor, let error):
                "socket activation passed descriptor \(descriptor), which is not a listening Unix stream socket (ListenStream= must be a path; Accept=no): \(error)"
            }
        }
    }

    /// The passed listener, made nonblocking and close-on-exec; nil when this process was not socket
    /// activated. Unsets `$LISTEN_PID`, `$LISTEN_FDS` and `$LISTEN_FDNAMES` either way, so that no
    /// process started later takes them for its own.
    ///
    /// The corresponding C functions are `getenv`, `unsetenv`, `fcntl` and `getsockopt`.
    public static func inheritedListener() throws(Failure) -> UnixSocket? {
        let pid = system_getenv("LISTEN_PID")
        let count = system_getenv("LISTEN_FDS")
        for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { system_unsetenv(name) }
        guard let pid, Int32(pid) == system_getpid(), let count else { return nil }
        guard Int(count) == 1 else { throw .count(count) }
        let descriptor = Int32(PLASMA_LISTEN_FDS_START)
        do throws(SystemError) {
            _ = try system_check_unix_listener(descriptor).get("getsockopt(fd \(descriptor))")
            let socket = UnixSocket(rawValue: descriptor)
            try socket.setNonBlocking(true)
            _ = try system_fcntl(descriptor, F_SETFD, FD_CLOEXEC).get("fcntl(fd \(descriptor), FD_CLOEXEC)")
            return socket
        } catch {
            throw .notAListener(descriptor: descriptor, error)
        }
    }
}

extension UnixSocket {
    /// The path this socket is bound to (`@name` for an abstract socket), or nil when unbound.
    ///
    /// The corresponding C function is `getsockname`.
    public func boundPath() -> String? {
        try? system_socket_bound_path(rawValue).get("getsockname(fd \(rawValue))")
    }
}
