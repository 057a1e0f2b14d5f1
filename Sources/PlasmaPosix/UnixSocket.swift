import Glibc
import SystemPackage

/// A connected or listening AF_UNIX SOCK_STREAM socket descriptor. A value; closing is explicit.
public struct UnixSocket: Hashable, Sendable {
    public let rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// A nonblocking, close-on-exec socket listening at `path`, given to `group` (if any) and chmod'ed
    /// to `mode` before it accepts anyone. An existing file at `path` is an error (EADDRINUSE): whether
    /// to unlink it is the server's call. A `path` longer than `sun_path` fails with ENAMETOOLONG.
    ///
    /// The corresponding C functions are `socket`, `bind`, `chown`, `chmod` and `listen`.
    public static func listen(
        path: String, mode: UInt32, group: UInt32? = nil, backlog: Int32 = 1024
    ) throws(SystemError) -> UnixSocket {
        let fd = try system_socket(AF_UNIX, socketType(nonBlocking: true)).get("socket(AF_UNIX)")
        let socket = UnixSocket(rawValue: fd)
        do {
            try withAddress(path, "bind") { system_bind(fd, $0, $1) }
        } catch {
            socket.close()
            throw error
        }
        do {
            // chown and chmod before listen: until listen, connects are refused, so no one slips in
            // under the umask or the creator's group.
            if let group { _ = try system_chgrp(path, gid_t(group)).get("chown(\(path), group \(group))") }
            _ = try system_chmod(path, mode_t(mode)).get("chmod(\(path))")
            _ = try system_listen(fd, backlog).get("listen(\(path))")
        } catch {
            socket.close()
            _ = system_unlink(path) // we created it
            throw error
        }
        return socket
    }

    /// A blocking, close-on-exec socket connected to the listener at `path`.
    ///
    /// The corresponding C functions are `socket` and `connect`.
    public static func connect(path: String) throws(SystemError) -> UnixSocket {
        let fd = try system_socket(AF_UNIX, socketType(nonBlocking: false)).get("socket(AF_UNIX)")
        do {
            try withAddress(path, "connect") { system_connect(fd, $0, $1) }
        } catch {
            UnixSocket(rawValue: fd).close()
            throw error
        }
        return UnixSocket(rawValue: fd)
    }

    /// Two connected, blocking, close-on-exec sockets.
    ///
    /// The corresponding C function is `socketpair`.
    public static func pair() throws(SystemError) -> (UnixSocket, UnixSocket) {
        var fds: (CInt, CInt) = (-1, -1)
        _ = try withUnsafeMutableBytes(of: &fds) { bytes in
            system_socketpair(socketType(nonBlocking: false), bytes.baseAddress!.assumingMemoryBound(to: CInt.self))
        }.get("socketpair(AF_UNIX)")
        return (UnixSocket(rawValue: fds.0), UnixSocket(rawValue: fds.1))
    }

    /// The next pending connection, nonblocking and close-on-exec; nil when none is waiting.
    ///
    /// The corresponding C function is `accept4`.
    public func accept() throws(SystemError) -> UnixSocket? {
        let flags = CInt(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
        return try system_accept4(rawValue, flags).unlessWouldBlock("accept4(fd \(rawValue))").map(UnixSocket.init)
    }

    /// Turns O_NONBLOCK on or off.
    ///
    /// The corresponding C function is `fcntl`.
    public func setNonBlocking(_ on: Bool) throws(SystemError) {
        let operation = "fcntl(fd \(rawValue), O_NONBLOCK)"
        let flags = try system_fcntl(rawValue, F_GETFL, 0).get(operation)
        let wanted = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        if wanted != flags { _ = try system_fcntl(rawValue, F_SETFL, wanted).get(operation) }
    }

    /// The pid, uid and gid of the process at the other end, as of connect.
    ///
    /// The corresponding C function is `getsockopt(SO_PEERCRED)`.
    public func peerCredentials() throws(SystemError) -> PeerCredentials {
        var credentials = PeerCredentials(pid: 0, uid: 0, gid: 0)
        _ = try system_peer_credentials(rawValue, &credentials.pid, &credentials.uid, &credentials.gid)
            .get("getsockopt(fd \(rawValue), SO_PEERCRED)")
        return credentials
    }

    /// Shuts both directions down, waking any reader; errors (e.g. not connected) are ignored.
    ///
    /// The corresponding C function is `shutdown`.
    public func shutdown() {
        _ = system_shutdown(rawValue, CInt(SHUT_RDWR))
    }

    /// Closes the descriptor. Every copy of this value then refers to a closed (or reused) fd.
    ///
    /// The corresponding C function is `close`.
    public func close() {
        _ = system_close(rawValue)
    }

    private static func socketType(nonBlocking: Bool) -> CInt {
        CInt(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue | (nonBlocking ? SOCK_NONBLOCK.rawValue : 0))
    }

    /// Runs `call` with `path` as a sockaddr_un; names the failure `call(path)`.
    private static func withAddress(
        _ path: String, _ call: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Result<CInt, Errno>
    ) throws(SystemError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, !bytes.contains(0) else {
            throw SystemError(operation: "\(call)(\(path))", errno: .invalidArgument)
        }
        guard bytes.count < capacity else { // room for the terminating NUL
            throw SystemError(operation: "\(call)(\(path))", errno: .fileNameTooLong)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + 1)
        _ = try withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }.get("\(call)(\(path))")
    }
}

/// Who is at the other end of a Unix socket, as the kernel recorded it at connect.
public struct PeerCredentials: Hashable, Sendable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}
