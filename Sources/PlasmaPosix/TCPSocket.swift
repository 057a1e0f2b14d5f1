import Glibc
import SystemPackage

/// A blocking, close-on-exec TCP socket of the transfer plane: a listener or a connection. A value;
/// closing is explicit. Blocking calls end after the timeouts set with ``setTimeouts(receive:send:)``,
/// failing with `EAGAIN`. Sends never raise SIGPIPE through `send` (`MSG_NOSIGNAL`); `sendfile` can't
/// ask for that, so a thread that calls ``sendFile(from:offset:count:)`` blocks SIGPIPE (``PosixThread``
/// blocks every signal).
public struct TCPSocket: Hashable, Sendable {
    /// The descriptor.
    public let rawValue: Int32

    /// Wraps a descriptor.
    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// A socket listening on exactly `endpoint` (port 0: a free one, see the returned port), with
    /// SO_REUSEADDR, and IPV6_V6ONLY for an IPv6 address.
    ///
    /// The corresponding C functions are `getaddrinfo`, `socket`, `bind` and `listen`, through
    /// `plasma_tcp_listen`.
    public static func listen(on endpoint: TCPEndpoint, backlog: Int32 = 128) throws(SystemError) -> (socket: TCPSocket, port: UInt16) {
        var port: UInt16 = 0
        let fd = try system_tcp_listen(endpoint.host, endpoint.port, backlog, &port).get("listen(tcp \(endpoint))")
        return (TCPSocket(rawValue: fd), port)
    }

    /// A socket connected to `endpoint` with TCP_NODELAY, within `timeout` in all (ETIMEDOUT after it).
    ///
    /// The corresponding C functions are `getaddrinfo`, `socket`, `connect` and `poll`, through
    /// `plasma_tcp_connect`.
    public static func connect(to endpoint: TCPEndpoint, timeout: Duration) throws(SystemError) -> TCPSocket {
        let milliseconds = CInt(clamping: max(1, timeout.milliseconds))
        let fd = try system_tcp_connect(endpoint.host, endpoint.port, milliseconds).get("connect(tcp \(endpoint))")
        return TCPSocket(rawValue: fd)
    }

    /// The next connection (blocking) with TCP_NODELAY, and its peer's address as text.
    ///
    /// The corresponding C function is `accept4`, through `plasma_tcp_accept`.
    public func accept() throws(SystemError) -> (socket: TCPSocket, peer: String) {
        var peer = [CChar](repeating: 0, count: 64)
        let fd = try system_tcp_accept(rawValue, &peer).get("accept(tcp fd \(rawValue))")
        let text = String(decoding: peer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (TCPSocket(rawValue: fd), text)
    }

    /// How long one blocking receive or send may wait (nil: forever), to the millisecond.
    ///
    /// The corresponding C function is `setsockopt(SO_RCVTIMEO, SO_SNDTIMEO)`.
    public func setTimeouts(receive: Duration?, send: Duration?) throws(SystemError) {
        func milliseconds(_ duration: Duration?) -> Int64 { duration.map { max(1, $0.milliseconds) } ?? 0 }
        _ = try system_tcp_set_timeouts(rawValue, milliseconds(receive), milliseconds(send))
            .get("setsockopt(tcp fd \(rawValue), SO_RCVTIMEO/SO_SNDTIMEO)")
    }

    /// Receives what is available, blocking until something is: bytes received, 0 at EOF.
    ///
    /// The corresponding C function is `recv`.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        try system_recv(rawValue, buffer, 0).get("recv(tcp fd \(rawValue))")
    }

    /// Fills `buffer`: true when it is full, false at EOF before that (what arrived stays in it).
    ///
    /// The corresponding C function is `recv`.
    public func receiveExactly(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Bool {
        var filled = 0
        while filled < buffer.count {
            let count = try receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if count == 0 { return false }
            filled += count
        }
        return true
    }

    /// Sends all of `buffer`, blocking as needed.
    ///
    /// The corresponding C function is `send` with `MSG_NOSIGNAL`.
    public func sendAll(_ buffer: UnsafeRawBufferPointer) throws(SystemError) {
        var sent = 0
        while sent < buffer.count {
            sent += try system_send(rawValue, UnsafeRawBufferPointer(rebasing: buffer[sent...]), CInt(MSG_NOSIGNAL))
                .get("send(tcp fd \(rawValue))")
        }
    }

    /// Sends up to `count` bytes of the file `descriptor` from `offset` without copying them through
    /// user space: bytes sent.
    ///
    /// The corresponding C function is `sendfile`.
    public func sendFile(from descriptor: Int32, offset: Int, count: Int) throws(SystemError) -> Int {
        try system_sendfile(rawValue, descriptor, offset, count).get("sendfile(tcp fd \(rawValue))")
    }

    /// Shuts both directions down, waking a thread blocked in accept, receive or send on it.
    ///
    /// The corresponding C function is `shutdown`.
    public func shutdown() {
        _ = system_shutdown(rawValue, CInt(SHUT_RDWR))
    }

    /// Closes the descriptor.
    ///
    /// The corresponding C function is `close`.
    public func close() {
        _ = system_close(rawValue)
    }
}

extension Duration {
    /// Whole milliseconds, rounded down, clamped to Int64.
    fileprivate var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        return overflow ? (seconds < 0 ? .min : .max) : product &+ attoseconds / 1_000_000_000_000_000
    }
}
