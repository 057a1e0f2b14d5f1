import Glibc
import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// A bare Arrow Plasma client built from the codec, reading the way libplasma 11 reads: exact-length
/// plain reads for frames, a 1-byte recvmsg for each fd. For driving the store's Arrow dialect without
/// Python.
final class ArrowRawClient {
    let socket: UnixSocket
    /// Segments mapped so far, by the store's segment number (libplasma's mmap_table_).
    private(set) var mappings: [Int32: (base: UnsafeMutableRawPointer, size: Int)] = [:]

    init(path: String) throws {
        socket = try UnixSocket.connect(path: path)
        // A test that expects more than the store sends fails after 20 s instead of hanging.
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(socket.rawValue, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        for (_, mapping) in mappings { munmap(mapping.base, mapping.size) }
        socket.close()
    }

    func send(_ request: ArrowRequest) throws {
        try sendRaw(request.encode())
    }

    func sendRaw(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try socket.writeAll($0) }
    }

    /// Sends and reads the reply, then receives and maps any segment fd that follows it.
    func call(_ request: ArrowRequest) throws -> ArrowReply {
        try send(request)
        return try readReply()
    }

    func readReply() throws -> ArrowReply {
        var header = [UInt8](repeating: 0, count: ArrowFrameHeader.size)
        guard try header.withUnsafeMutableBytes({ try socket.readExactly(into: $0) }) else {
            throw Failure("the store closed the connection")
        }
        let decoded = try ArrowFrameHeader.decode(header, maxPayload: 1 << 30)!
        var payload = [UInt8](repeating: 0, count: decoded.payloadLength)
        _ = try payload.withUnsafeMutableBytes { try socket.readExactly(into: $0) }
        // No item limit: the store answers a get or delete of any number of ids (as Arrow's store does).
        let limits = WireLimits(maxPayload: 1 << 30, maxItems: Int.max)
        let reply = try payload.withUnsafeBytes { try ArrowReply.decode(type: decoded.type, payload: $0, limits: limits) }
        switch reply {
        case .create(_, _, let error, let storeFd, let mmapSize) where error == .ok:
            try mapIfNew(storeFd, mmapSize: mmapSize)
        case .get(_, _, let storeFds, let mmapSizes):
            for (fd, size) in zip(storeFds, mmapSizes) { try mapIfNew(fd, mmapSize: size) }
        default: break
        }
        return reply
    }

    /// libplasma's `LookupOrMmap`: a segment not seen yet comes as an fd; map mmap_size - 8 bytes.
    private func mapIfNew(_ segment: Int32, mmapSize: Int64) throws {
        guard mappings[segment] == nil else { return }
        guard let fd = try socket.receiveArrowDescriptor() else { throw Failure("no fd after the reply") }
        defer { Glibc.close(fd) }
        let size = Int(mmapSize) - 8
        guard let base = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            throw Failure("mmap of segment \(segment) failed")
        }
        mappings[segment] = (base, size)
    }

    func bytes(of spec: ArrowObjectSpec, metadata: Bool = false) -> [UInt8] {
        guard let mapping = mappings[spec.segmentIndex] else { return [] }
        let offset = Int(metadata ? spec.metadataOffset : spec.dataOffset)
        let count = Int(metadata ? spec.metadataSize : spec.dataSize)
        return Array(UnsafeRawBufferPointer(start: mapping.base + offset, count: count))
    }

    func write(_ bytes: [UInt8], at spec: ArrowObjectSpec) {
        guard let mapping = mappings[spec.segmentIndex], !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { (mapping.base + Int(spec.dataOffset)).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// Subscribe the way libplasma does: a socketpair, the request, then the write end as a 1-byte
    /// fling. Returns the read end.
    func subscribe() throws -> UnixSocket {
        let (reader, writer) = try UnixSocket.pair()
        try writer.setNonBlocking(true)
        try send(.subscribe)
        guard try socket.sendArrowDescriptor(writer.rawValue) else { throw Failure("fling did not fit") }
        writer.close()
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(reader.rawValue, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return reader
    }

    /// The next notification on a subscription's read end; nil at EOF.
    static func nextNotification(_ reader: UnixSocket) throws -> ArrowNotification? {
        var size = [UInt8](repeating: 0, count: 8)
        guard try size.withUnsafeMutableBytes({ try reader.readExactly(into: $0) }) else { return nil }
        let length = size.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }
        var payload = [UInt8](repeating: 0, count: Int(length))
        _ = try payload.withUnsafeMutableBytes { try reader.readExactly(into: $0) }
        return try ArrowNotification.decode(message: size + payload)
    }

    /// True once the store has closed this connection (EOF), waiting up to `timeout` seconds.
    func isClosedByStore(timeout: Int32 = 10) -> Bool {
        var poller = pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, timeout * 1000) > 0 else { return false }
        var byte: UInt8 = 0
        return Glibc.recv(socket.rawValue, &byte, 1, Int32(MSG_DONTWAIT)) == 0
    }
}

extension ArrowReply {
    var getSpecs: [ArrowObjectSpec] {
        if case .get(_, let specs, _, _) = self { return specs }
        return []
    }
}
