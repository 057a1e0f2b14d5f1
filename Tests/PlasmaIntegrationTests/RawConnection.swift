import Glibc
import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// A bare native-protocol connection, for driving the store in ways the client library won't.
final class RawConnection {
    let socket: UnixSocket
    private var nextID: UInt64 = 1
    private var lastCreatedOffset: Int?

    init(path: String) throws {
        socket = try UnixSocket.connect(path: path)
        // A test that expects more than the store sends fails after 20 s instead of hanging.
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(socket.rawValue, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { socket.close() }

    /// Sends one request and reads its reply (requests here never wait, so replies come in order).
    func call(_ request: Request) throws -> Reply {
        try send(request)
        while true {
            if case .reply(let reply) = try readFrame() { return reply }
        }
    }

    /// Sends without reading anything back.
    func send(_ request: Request) throws {
        var writer = ByteWriter()
        request.encode(requestID: nextID, into: &writer)
        nextID += 1
        try writer.buffer.withUnsafeBytes { try socket.writeAll($0) }
    }

    /// Sends many requests in one write, reading nothing back (for tests that fill a limit).
    func sendAll(_ requests: [Request]) throws {
        var writer = ByteWriter()
        for request in requests {
            request.encode(requestID: nextID, into: &writer)
            nextID += 1
        }
        try writer.buffer.withUnsafeBytes { try socket.writeAll($0) }
    }

    enum Frame {
        case reply(Reply)
        case event(subscriptionID: UInt64, ObjectEvent)
    }

    /// Reads the next frame, reply or event.
    func readFrame() throws -> Frame {
        var header = [UInt8](repeating: 0, count: FrameHeader.size)
        guard try header.withUnsafeMutableBytes({ try socket.readExactly(into: $0) }) else {
            throw Failure("the store closed the connection")
        }
        let decoded = try header.withUnsafeBytes { try FrameHeader.decode($0, maxPayload: 1 << 30) }!
        var payload = [UInt8](repeating: 0, count: decoded.payloadLength)
        _ = try payload.withUnsafeMutableBytes { try socket.readExactly(into: $0) }
        if decoded.type & MessageType.eventBit != 0 {
            let event = try payload.withUnsafeBytes { try ObjectEvent.decode(type: decoded.type, payload: $0) }
            return .event(subscriptionID: decoded.requestID, event)
        }
        let reply = try payload.withUnsafeBytes { try Reply.decode(type: decoded.type, payload: $0) }
        if case .created(let offset) = reply { lastCreatedOffset = offset }
        return .reply(reply)
    }

    func lastOffset() throws -> Int? { lastCreatedOffset }
}

extension Reply {
    /// The failure status, or `.ok`.
    var status: PlasmaStatus {
        if case .failure(let status, _) = self { return status }
        return .ok
    }
}
