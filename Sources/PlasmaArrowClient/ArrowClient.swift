import Glibc
import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// A small blocking client of the Arrow Plasma dialect (pyarrow 11 / libplasma framing), built from our
/// codec. Not a product: `plasma-bench --compare-arrow` drives Arrow's `plasma-store-server` and ours
/// with it, and the tests drive our Arrow dialect with it, without Python.
///
/// It reads the way libplasma 11 reads (docs/PROTOCOL.md §12): replies with exact-length plain reads, so
/// that a descriptor byte that follows a reply is never swallowed; a descriptor arrives as its own 1-byte
/// message with SCM_RIGHTS, once per segment (keyed by the store's `store_fd`), and is mapped
/// `mmap_size - 8` bytes (the 8-byte gap the store reports but the client leaves out), read-write, kept
/// until the client goes away. Seals carry 8 zero bytes as the digest (no store checks it).
public final class ArrowClient {
    /// Why a call failed.
    public enum Failure: Error, CustomStringConvertible {
        /// The store closed the connection (a store that doesn't serve the dialect closes at the first
        /// Arrow frame), or the socket failed.
        case disconnected(String)
        /// A reply that doesn't answer the request, or a segment the client can't map.
        case unexpected(String)
        /// The store answered with an error.
        case store(ArrowPlasmaError, String)

        /// One line for a person.
        public var description: String {
            switch self {
            case .disconnected(let what): "disconnected: \(what)"
            case .unexpected(let what): "unexpected reply: \(what)"
            case .store(let error, let what): "store answered \(error) to \(what)"
            }
        }
    }

    /// The digest every seal sends.
    public static let digest = [UInt8](repeating: 0, count: ArrowRequest.digestSize)

    /// The connection; tests write raw bytes to it and watch it close.
    public let socket: UnixSocket
    /// Segments mapped so far, by the store's segment number (libplasma's `mmap_table_`).
    private var segments: [Int32: SharedMemoryMapping] = [:]
    private var payload = [UInt8](repeating: 0, count: 4096)
    /// No item limit: a store answers a get or delete of any number of ids (Arrow's does).
    private static let limits = WireLimits(maxPayload: 1 << 30, maxItems: Int.max)

    /// Connects, retrying `retries` times 100 ms apart while nothing listens. With `receiveTimeout`
    /// (seconds), a read that waits longer fails instead of hanging (for tests that expect a reply).
    /// Says nothing yet: `connect()` is the dialect's hello.
    public init(path: String, retries: Int = 0, receiveTimeout: Int? = nil) throws {
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
        if let receiveTimeout {
            var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
            setsockopt(socket.rawValue, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
    }

    deinit { socket.close() }

    // MARK: Framing

    /// Sends one request.
    public func send(_ request: ArrowRequest) throws {
        try sendRaw(request.encode())
    }

    /// Sends bytes as they are (tests send malformed frames).
    public func sendRaw(_ bytes: [UInt8]) throws {
        do {
            try bytes.withUnsafeBytes { try socket.writeAll($0) }
        } catch {
            throw Failure.disconnected("\(error)")
        }
    }

    /// Sends and reads the reply, mapping any segment whose descriptor follows it.
    public func call(_ request: ArrowRequest) throws -> ArrowReply {
        try send(request)
        return try readReply()
    }

    /// Reads one reply, then receives and maps the descriptor of each segment it names that is new.
    public func readReply() throws -> ArrowReply {
        var header = (UInt64(0), UInt64(0), UInt64(0))
        let complete = try withUnsafeMutableBytes(of: &header) { raw in
            do { return try socket.readExactly(into: raw) } catch { throw Failure.disconnected("\(error)") }
        }
        guard complete else { throw Failure.disconnected("the store closed the connection") }
        let decoded = try withUnsafeBytes(of: &header) { try ArrowFrameHeader.decode($0, maxPayload: Self.limits.maxPayload)! }
        if payload.count < decoded.payloadLength { payload = [UInt8](repeating: 0, count: decoded.payloadLength) }
        let reply = try payload.withUnsafeMutableBytes { raw in
            let body = UnsafeMutableRawBufferPointer(rebasing: raw[..<decoded.payloadLength])
            do {
                guard try socket.readExactly(into: body) || body.isEmpty else {
                    throw Failure.disconnected("the store closed the connection in a reply")
                }
            } catch let error as Failure { throw error } catch { throw Failure.disconnected("\(error)") }
            return try ArrowReply.decode(type: decoded.type, payload: UnsafeRawBufferPointer(body), limits: Self.limits)
        }
        switch reply {
        case .create(_, _, let error, let storeFd, let mmapSize) where error == .ok:
            try mapIfNew(storeFd, mmapSize: mmapSize)
        case .get(_, _, let storeFds, let mmapSizes):
            for (fd, size) in zip(storeFds, mmapSizes) { try mapIfNew(fd, mmapSize: size) }
        default: break
        }
        return reply
    }

    /// libplasma's `LookupOrMmap`: a segment not seen yet comes as a descriptor; map mmap_size - 8 bytes.
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

    // MARK: Object bytes

    /// The object's data (or metadata) bytes in its mapped segment, bounds-checked.
    public func buffer(_ spec: ArrowObjectSpec, metadata: Bool = false) throws -> UnsafeMutableRawBufferPointer {
        guard let segment = segments[spec.segmentIndex] else { throw Failure.unexpected("unknown segment \(spec.segmentIndex)") }
        let (offset, size) = metadata ? (spec.metadataOffset, spec.metadataSize) : (spec.dataOffset, spec.dataSize)
        guard offset <= UInt64(segment.size), size <= UInt64(segment.size) - offset else {
            throw Failure.unexpected("object at \(offset)+\(size) outside segment of \(segment.size) bytes")
        }
        return UnsafeMutableRawBufferPointer(start: segment.base + Int(offset), count: Int(size))
    }

    /// A copy of the object's data (or metadata) bytes.
    public func bytes(of spec: ArrowObjectSpec, metadata: Bool = false) throws -> [UInt8] {
        Array(try buffer(spec, metadata: metadata))
    }

    /// Writes `bytes` from the start of the object's data on; they may run on into its metadata, which
    /// follows the data in the segment.
    public func write(_ bytes: [UInt8], at spec: ArrowObjectSpec) throws {
        let data = try buffer(spec)
        let room = data.count + (try buffer(spec, metadata: true)).count
        guard bytes.count <= room else { throw Failure.unexpected("\(bytes.count) bytes into an object of \(room)") }
        bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(start: data.baseAddress, count: bytes.count).copyMemory(from: $0) }
    }

    /// True once the store has closed this connection (EOF), waiting up to `timeout` seconds.
    public func isClosedByStore(timeout: Int32 = 10) -> Bool {
        var poller = pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, timeout * 1000) > 0 else { return false }
        var byte: UInt8 = 0
        return Glibc.recv(socket.rawValue, &byte, 1, Int32(MSG_DONTWAIT)) == 0
    }
}
