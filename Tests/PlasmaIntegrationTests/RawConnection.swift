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
    }

    deinit { socket.close() }

    /// Sends one request and reads its reply (requests here never wait, so replies come in order).
    func call(_ request: Request) throws -> Reply {
        var writer = ByteWriter()
        request.encode(requestID: nextID, into: &writer)
        nextID += 1
        try writer.buffer.withUnsafeBytes { try socket.writeAll($0) }
        var header = [UInt8](repeating: 0, count: FrameHeader.size)
        guard try header.withUnsafeMutableBytes({ try socket.readExactly(into: $0) }) else {
            throw Failure("the store closed the connection")
        }
        let decoded = try header.withUnsafeBytes { try FrameHeader.decode($0, maxPayload: 1 << 30) }!
        var payload = [UInt8](repeating: 0, count: decoded.payloadLength)
        _ = try payload.withUnsafeMutableBytes { try socket.readExactly(into: $0) }
        let reply = try payload.withUnsafeBytes { try Reply.decode(type: decoded.type, payload: $0) }
        if case .created(let offset) = reply { lastCreatedOffset = offset }
        return reply
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
