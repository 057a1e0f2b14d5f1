import Glibc
import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// A minimal blocking client of the Arrow Plasma dialect (pyarrow 11 / libplasma framing), for
/// --compare-arrow: the same code drives Arrow's `plasma-store-server` and our store.
///
/// Framing as in docs/PROTOCOL.md §12 and docs/ARCHITECTURE.md §10: every message is a 24-byte header plus a
/// flatbuffer; replies are read with exact-length plain reads, so that a descriptor byte that follows a
/// reply is never swallowed; a descriptor arrives as its own 1-byte message with SCM_RIGHTS, once per
/// segment (keyed by the store's `store_fd`), and is mapped `mmap_size - 8` bytes (the 8-byte gap the
/// store reports but the client leaves out), read-write, kept until the client goes away.
/// Not done (the store doesn't check it): computing a digest; every seal sends 8 zero bytes.
final class ArrowClient {
    enum Failure: Error, CustomStringConvertible {
        /// The store closed the connection (a store that doesn't serve the dialect, such as builds of
        /// ours before it did, closes at the first Arrow frame).
        case disconnected(String)
        case unexpected(String)
        case store(ArrowPlasmaError, String)

        var description: String {
            switch self {
            case .disconnected(let what): "disconnected: \(what)"
            case .unexpected(let what): "unexpected reply: \(what)"
            case .store(let error, let what): "store answered \(error) to \(what)"
            }
        }
    }

    static let digest = [UInt8](repeating: 0, count: ArrowRequest.digestSize)

    private(set) var capacity: Int64 = 0
    private let socket: UnixSocket
    private var segments: [Int32: SharedMemoryMapping] = [:]
    private var payload = [UInt8](repeating: 0, count: 4096)

    /// Connects (retrying `retries` times, 100 ms apart, while nothing listens) and says hello.
    init(path: String, retries: Int = 0) throws {
        var attempt = 0
        while true {
            do {
                socket = try UnixSocket.connect(path: path)
                break
            } catch {
                guard attempt < retries else { throw Failure.disconnected("cannot connect to \(path): \(error)") }
                attempt += 1
                usleep(100_000)
            }
        }
        do {
            guard case .connect(let capacity) = try call(.connect) else { throw Failure.unexpected("to Connect") }
            self.capacity = capacity
        } catch {
            socket.close()
            throw error
        }
    }

    deinit { socket.close() }

    // MARK: Requests

    /// Create: the object's writable data bytes (mapping the segment on first sight).
    func create(_ id: ObjectID, dataSize: Int) throws -> UnsafeMutableRawBufferPointer {
        let reply = try call(.create(id: id, evictIfFull: true, dataSize: UInt64(dataSize), metadataSize: 0, deviceNum: 0))
        guard case .create(let replyID, let spec, let error, let storeFd, let mmapSize) = reply, replyID == id else {
            throw Failure.unexpected("to Create: \(reply)")
        }
        guard error == .ok else { throw Failure.store(error, "Create") }
        try mapIfNew(storeFd, mmapSize: mmapSize)
        return try bytes(spec)
    }

    func seal(_ id: ObjectID) throws {
        let reply = try call(.seal(id: id, digest: Self.digest))
        guard case .seal(let replyID, let error) = reply, replyID == id else { throw Failure.unexpected("to Seal: \(reply)") }
        guard error == .ok else { throw Failure.store(error, "Seal") }
    }

    /// No reply comes (the store never answers a release).
    func release(_ id: ObjectID) throws {
        try send(.release(id: id))
    }

    func createAndSeal(_ id: ObjectID, data: [UInt8]) throws {
        let reply = try call(.createAndSeal(id: id, evictIfFull: true, data: data, metadata: [], digest: Self.digest))
        guard case .createAndSeal(let error) = reply else { throw Failure.unexpected("to CreateAndSeal: \(reply)") }
        guard error == .ok else { throw Failure.store(error, "CreateAndSeal") }
    }

    func createAndSeal(batch ids: [ObjectID], data: [UInt8]) throws {
        let request = ArrowRequest.createAndSealBatch(
            ids: ids, evictIfFull: true, data: Array(repeating: data, count: ids.count),
            metadata: Array(repeating: [], count: ids.count), digests: Array(repeating: Self.digest, count: ids.count))
        let reply = try call(request)
        guard case .createAndSealBatch(let error) = reply else { throw Failure.unexpected("to CreateAndSealBatch: \(reply)") }
        guard error == .ok else { throw Failure.store(error, "CreateAndSealBatch") }
    }

    /// Get with timeout 0: the data bytes of each id, nil for one not present.
    func get(_ ids: [ObjectID]) throws -> [UnsafeRawBufferPointer?] {
        let reply = try call(.get(ids: ids, timeoutMs: 0))
        guard case .get(let replyIDs, let specs, let storeFds, let mmapSizes) = reply, replyIDs == ids else {
            throw Failure.unexpected("to Get: \(reply)")
        }
        for (fd, size) in zip(storeFds, mmapSizes) { try mapIfNew(fd, mmapSize: size) }
        return try specs.map { $0.isPresent ? UnsafeRawBufferPointer(try bytes($0)) : nil }
    }

    func delete(_ ids: [ObjectID]) throws {
        let reply = try call(.delete(ids: ids))
        guard case .delete = reply else { throw Failure.unexpected("to Delete: \(reply)") }
    }

    // MARK: Framing

    private func call(_ request: ArrowRequest) throws -> ArrowReply {
        try send(request)
        return try receive()
    }

    private func send(_ request: ArrowRequest) throws {
        let frame = request.encode()
        do {
            try frame.withUnsafeBytes { try socket.writeAll($0) }
        } catch {
            throw Failure.disconnected("\(error)")
        }
    }

    private func receive() throws -> ArrowReply {
        var header = (UInt64(0), UInt64(0), UInt64(0))
        let complete = try withUnsafeMutableBytes(of: &header) { raw in
            do { return try socket.readExactly(into: raw) } catch { throw Failure.disconnected("\(error)") }
        }
        guard complete else { throw Failure.disconnected("the store closed the connection") }
        let decoded = try withUnsafeBytes(of: &header) { try ArrowFrameHeader.decode($0, maxPayload: 1 << 30)! }
        if payload.count < decoded.payloadLength { payload = [UInt8](repeating: 0, count: decoded.payloadLength) }
        return try payload.withUnsafeMutableBytes { raw in
            let body = UnsafeMutableRawBufferPointer(rebasing: raw[..<decoded.payloadLength])
            guard try socket.readExactly(into: body) || body.isEmpty else {
                throw Failure.disconnected("the store closed the connection in a reply")
            }
            return try ArrowReply.decode(type: decoded.type, payload: UnsafeRawBufferPointer(body))
        }
    }

    /// Receives and maps the descriptor the store sends after a reply naming a segment we haven't seen.
    private func mapIfNew(_ storeFd: Int32, mmapSize: Int64) throws {
        guard segments[storeFd] == nil else { return }
        guard mmapSize > 8 else { throw Failure.unexpected("mmap_size \(mmapSize) of segment \(storeFd)") }
        guard let descriptor = try socket.receiveArrowDescriptor() else {
            throw Failure.unexpected("no descriptor for segment \(storeFd)")
        }
        defer { Glibc.close(descriptor) }
        segments[storeFd] = try SharedMemoryMapping(
            descriptor: descriptor, size: Int(mmapSize) - 8, writable: true, populate: false)
    }

    private func bytes(_ spec: ArrowObjectSpec) throws -> UnsafeMutableRawBufferPointer {
        guard let segment = segments[spec.segmentIndex] else { throw Failure.unexpected("unknown segment \(spec.segmentIndex)") }
        let (offset, size) = (Int(spec.dataOffset), Int(spec.dataSize))
        guard spec.dataOffset <= UInt64(segment.size), spec.dataSize <= UInt64(segment.size) - spec.dataOffset else {
            throw Failure.unexpected("object at \(offset)+\(size) outside segment of \(segment.size) bytes")
        }
        return UnsafeMutableRawBufferPointer(start: segment.base + offset, count: size)
    }
}
