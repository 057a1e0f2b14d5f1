import Glibc
import PlasmaPosix
import PlasmaWire

/// Arrow's subscriptions: every event on a socket of the subscriber's own.
extension ArrowClient {
    /// Subscribes the way libplasma does: a socketpair, the request, then the write end as a 1-byte
    /// fling. Returns the read end (reads on it time out after 20 s instead of hanging a test).
    public func subscribe() throws -> UnixSocket {
        let (reader, writer) = try UnixSocket.pair()
        defer { writer.close() }
        try writer.setNonBlocking(true)
        try send(.subscribe)
        guard try socket.sendArrowDescriptor(writer.rawValue) else { throw Failure.unexpected("the fling did not fit") }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(reader.rawValue, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return reader
    }

    /// The next notification on a subscription's read end; nil at EOF.
    public static func nextNotification(_ reader: UnixSocket) throws -> ArrowNotification? {
        var size = [UInt8](repeating: 0, count: 8)
        guard try size.withUnsafeMutableBytes({ try reader.readExactly(into: $0) }) else { return nil }
        let length = size.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }
        guard length >= 0, length <= 1 << 30 else { throw Failure.unexpected("notification of \(length) bytes") }
        var payload = [UInt8](repeating: 0, count: Int(length))
        _ = try payload.withUnsafeMutableBytes { try reader.readExactly(into: $0) }
        return try ArrowNotification.decode(message: size + payload)
    }
}
