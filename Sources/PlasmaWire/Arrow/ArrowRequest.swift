import PlasmaCore

/// A request from an Arrow Plasma (pyarrow 11 / libplasma) client.
///
/// Disconnecting is not a message: it is EOF on the socket. `subscribe` is followed on the socket by
/// one file descriptor (the caller receives it); `release` and `subscribe` get no reply.
///
/// Decoding is strict where the C++ store trusted its input: object ids must be exactly 20 bytes and
/// digests exactly 8, a delete's `count` must match its ids, and a batch's lists must have one entry per
/// id. Fields a real client always sends but which are missing are read as their defaults (empty list,
/// empty bytes), except an object id or a digest, which throw.
public enum ArrowRequest: Equatable, Sendable {
    case connect
    /// pyarrow always sends `evictIfFull: true` and `deviceNum: 0`.
    case create(id: ObjectID, evictIfFull: Bool, dataSize: UInt64, metadataSize: UInt64, deviceNum: Int32)
    case createAndSeal(id: ObjectID, evictIfFull: Bool, data: [UInt8], metadata: [UInt8], digest: [UInt8])
    case createAndSealBatch(
        ids: [ObjectID], evictIfFull: Bool, data: [[UInt8]], metadata: [[UInt8]], digests: [[UInt8]])
    case abort(id: ObjectID)
    case seal(id: ObjectID, digest: [UInt8])
    /// `timeoutMs`: -1 waits forever, 0 polls.
    case get(ids: [ObjectID], timeoutMs: Int64)
    case release(id: ObjectID)
    case delete(ids: [ObjectID])
    case contains(id: ObjectID)
    case list
    case evict(numBytes: UInt64)
    case subscribe
    case setOptions(clientName: String, outputMemoryQuota: Int64)
    case getDebugString
    case refreshLRU(ids: [ObjectID])

    /// Bytes in an Arrow digest (`kDigestSize`).
    public static let digestSize = 8

    public var messageType: ArrowMessageType {
        switch self {
        case .connect: .connectRequest
        case .create: .createRequest
        case .createAndSeal: .createAndSealRequest
        case .createAndSealBatch: .createAndSealBatchRequest
        case .abort: .abortRequest
        case .seal: .sealRequest
        case .get: .getRequest
        case .release: .releaseRequest
        case .delete: .deleteRequest
        case .contains: .containsRequest
        case .list: .listRequest
        case .evict: .evictRequest
        case .subscribe: .subscribeRequest
        case .setOptions: .setOptionsRequest
        case .getDebugString: .getDebugStringRequest
        case .refreshLRU: .refreshLRURequest
        }
    }

    /// True for the two requests the store never answers.
    public var expectsReply: Bool {
        switch self {
        case .release, .subscribe: false
        default: true
        }
    }
}

// MARK: - Encoding

extension ArrowRequest {
    /// The flatbuffer alone. Strings, vectors and fields are built in the order libplasma 11's
    /// `Send*Request` builds them (GCC evaluates call arguments right to left), so for the same values the
    /// bytes equal what pyarrow sends.
    public func encodePayload() -> [UInt8] {
        var builder = FlatBufferBuilder(capacity: estimatedSize)
        let root: FlatBufferBuilder.Offset
        switch self {
        case .connect, .list, .subscribe, .getDebugString:
            builder.startTable()
            root = builder.endTable()

        case .create(let id, let evictIfFull, let dataSize, let metadataSize, let deviceNum):
            let idString = builder.createString(id.bytes)
            builder.startTable()
            builder.add(field: 3, metadataSize)
            builder.add(field: 2, dataSize)
            builder.add(field: 4, deviceNum)
            builder.add(field: 0, idString)
            builder.add(field: 1, evictIfFull)
            root = builder.endTable()

        case .createAndSeal(let id, let evictIfFull, let data, let metadata, let digest):
            let digestString = builder.createString(digest)
            let metadataString = builder.createString(metadata)
            let dataString = builder.createString(data)
            let idString = builder.createString(id.bytes)
            builder.startTable()
            builder.add(field: 4, digestString)
            builder.add(field: 3, metadataString)
            builder.add(field: 2, dataString)
            builder.add(field: 0, idString)
            builder.add(field: 1, evictIfFull)
            root = builder.endTable()

        case .createAndSealBatch(let ids, let evictIfFull, let data, let metadata, let digests):
            let digestList = builder.createStringVector(digests)
            let metadataList = builder.createStringVector(metadata)
            let dataList = builder.createStringVector(data)
            let idList = builder.createIDVector(ids)
            builder.startTable()
            builder.add(field: 4, digestList)
            builder.add(field: 3, metadataList)
            builder.add(field: 2, dataList)
            builder.add(field: 0, idList)
            builder.add(field: 1, evictIfFull)
            root = builder.endTable()

        case .abort(let id), .release(let id), .contains(let id):
            let idString = builder.createString(id.bytes)
            builder.startTable()
            builder.add(field: 0, idString)
            root = builder.endTable()

        case .seal(let id, let digest):
            let digestString = builder.createString(digest)
            let idString = builder.createString(id.bytes)
            builder.startTable()
            builder.add(field: 1, digestString)
            builder.add(field: 0, idString)
            root = builder.endTable()

        case .get(let ids, let timeoutMs):
            let idList = builder.createIDVector(ids)
            builder.startTable()
            builder.add(field: 1, timeoutMs)
            builder.add(field: 0, idList)
            root = builder.endTable()

        case .delete(let ids):
            let idList = builder.createIDVector(ids)
            builder.startTable()
            builder.add(field: 1, idList)
            builder.add(field: 0, Int32(truncatingIfNeeded: ids.count))
            root = builder.endTable()

        case .evict(let numBytes):
            builder.startTable()
            builder.add(field: 0, numBytes)
            root = builder.endTable()

        case .setOptions(let clientName, let outputMemoryQuota):
            let name = builder.createString(clientName)
            builder.startTable()
            builder.add(field: 1, outputMemoryQuota)
            builder.add(field: 0, name)
            root = builder.endTable()

        case .refreshLRU(let ids):
            let idList = builder.createIDVector(ids)
            builder.startTable()
            builder.add(field: 0, idList)
            root = builder.endTable()
        }
        return builder.finish(root: root)
    }
}

extension ArrowRequest {
    /// Enough room for the payload in most cases (the builder grows if not).
    private var estimatedSize: Int {
        switch self {
        case .createAndSeal(_, _, let data, let metadata, _): 160 + data.count + metadata.count
        case .createAndSealBatch(let ids, _, let data, let metadata, _):
            128 + ids.count * 96 + data.reduce(0) { $0 + $1.count } + metadata.reduce(0) { $0 + $1.count }
        case .get(let ids, _), .delete(let ids), .refreshLRU(let ids): 64 + ids.count * 32
        default: 128
        }
    }
}

extension FlatBufferBuilder {
    /// A `[string]` of object ids, built like libplasma's `ToFlatbuffer`: the strings in order, then the vector.
    mutating func createIDVector(_ ids: [ObjectID]) -> Offset {
        createStringVector(count: ids.count, length: ObjectID.byteCount) { index, destination in
            ids[index].store(to: destination)
        }
    }

    mutating func createStringVector(_ items: [[UInt8]]) -> Offset {
        let strings = items.map { createString($0) }
        return createVector(offsets: strings)
    }
}

// MARK: - Decoding

extension ArrowRequest: ArrowMessage {
    /// Decodes a request payload of the given header type. Throws for reply types, unused types
    /// (disconnect, unsubscribe, data, notification) and anything malformed.
    public static func decode(
        type: Int64, payload: UnsafeRawBufferPointer, limits: WireLimits = WireLimits()
    ) throws(WireError) -> ArrowRequest {
        let preamble = try ArrowPayloadPreamble(type: type, payload: payload, limits: limits)
        let decoder = { () throws(WireError) -> FlatTable in try preamble.root() }
        let items = limits.maxItems
        switch preamble.messageType {
        case .connectRequest:
            _ = try decoder()
            return .connect
        case .listRequest:
            _ = try decoder()
            return .list
        case .subscribeRequest:
            _ = try decoder()
            return .subscribe
        case .getDebugStringRequest:
            _ = try decoder()
            return .getDebugString

        case .createRequest:
            let table = try decoder()
            return .create(
                id: try table.objectID(0), evictIfFull: try table.bool(1), dataSize: try table.scalar(2),
                metadataSize: try table.scalar(3), deviceNum: try table.scalar(4))

        case .createAndSealRequest:
            let table = try decoder()
            return .createAndSeal(
                id: try table.objectID(0), evictIfFull: try table.bool(1), data: try table.bytes(2) ?? [],
                metadata: try table.bytes(3) ?? [], digest: try table.digest(4))

        case .createAndSealBatchRequest:
            let table = try decoder()
            let ids = try table.objectIDs(0, limit: items) ?? []
            let data = try table.byteStrings(2, limit: items) ?? []
            let metadata = try table.byteStrings(3, limit: items) ?? []
            let digests = try table.byteStrings(4, limit: items) ?? []
            guard data.count == ids.count, metadata.count == ids.count, digests.count == ids.count else {
                throw .invalidValue(
                    "batch of \(ids.count) ids with \(data.count) data, \(metadata.count) metadata, "
                        + "\(digests.count) digests")
            }
            for digest in digests { try checkDigest(digest.count) }
            return .createAndSealBatch(
                ids: ids, evictIfFull: try table.bool(1), data: data, metadata: metadata, digests: digests)

        case .abortRequest: return .abort(id: try decoder().objectID(0))
        case .releaseRequest: return .release(id: try decoder().objectID(0))
        case .containsRequest: return .contains(id: try decoder().objectID(0))

        case .sealRequest:
            let table = try decoder()
            return .seal(id: try table.objectID(0), digest: try table.digest(1))

        case .getRequest:
            let table = try decoder()
            return .get(ids: try table.objectIDs(0, limit: items) ?? [], timeoutMs: try table.scalar(1))

        case .deleteRequest:
            let table = try decoder()
            let count: Int32 = try table.scalar(0)
            let ids = try table.objectIDs(1, limit: items) ?? []
            guard Int(count) == ids.count else {
                throw .invalidValue("delete count \(count) but \(ids.count) object ids")
            }
            return .delete(ids: ids)

        case .evictRequest:
            return .evict(numBytes: try decoder().scalar(0))

        case .setOptionsRequest:
            let table = try decoder()
            return .setOptions(clientName: try table.string(0) ?? "", outputMemoryQuota: try table.scalar(1))

        case .refreshLRURequest:
            return .refreshLRU(ids: try decoder().objectIDs(0, limit: items) ?? [])

        case .disconnectClient, .unsubscribeRequest, .dataRequest, .dataReply, .notification,
            .createReply, .createAndSealReply, .abortReply, .sealReply, .getReply, .releaseReply,
            .deleteReply, .containsReply, .listReply, .connectReply, .evictReply, .setOptionsReply,
            .getDebugStringReply, .createAndSealBatchReply, .refreshLRUReply:
            throw .unknownArrowType(type)
        }
    }

    static func checkDigest(_ count: Int) throws(WireError) {
        guard count == digestSize else { throw .invalidValue("digest of \(count) bytes (must be \(digestSize))") }
    }
}

// MARK: - Shared field readers

extension FlatTable {
    /// A required 20-byte object id string.
    func objectID(_ id: Int) throws(WireError) -> ObjectID {
        guard let bytes = try stringBytes(id) else { throw .invalidValue("missing object id (field \(id))") }
        return try ArrowIDs.objectID(bytes)
    }

    /// A `[string]` of 20-byte object ids, nil when absent.
    func objectIDs(_ id: Int, limit: Int) throws(WireError) -> [ObjectID]? {
        guard let vector = try vector(id, elementSize: 4, limit: limit) else { return nil }
        var ids = [ObjectID]()
        ids.reserveCapacity(vector.count)
        for index in 0..<vector.count { ids.append(try ArrowIDs.objectID(try vector.stringBytes(at: index))) }
        return ids
    }

    /// A `[string]` of byte strings, nil when absent. Elements may share one string in a hostile buffer,
    /// so the copies are capped at the buffer's size (what distinct strings could ever add up to).
    func byteStrings(_ id: Int, limit: Int) throws(WireError) -> [[UInt8]]? {
        guard let vector = try vector(id, elementSize: 4, limit: limit) else { return nil }
        var items = [[UInt8]]()
        items.reserveCapacity(vector.count)
        var total = 0
        for index in 0..<vector.count {
            let bytes = try vector.stringBytes(at: index)
            total += bytes.count
            guard total <= buffer.count else {
                throw .flatbufferMalformed("strings of field \(id) add up to more than the \(buffer.count)-byte buffer")
            }
            items.append(Array(bytes))
        }
        return items
    }

    /// A required 8-byte digest string.
    func digest(_ id: Int) throws(WireError) -> [UInt8] {
        guard let bytes = try stringBytes(id) else { throw .invalidValue("missing digest (field \(id))") }
        try ArrowRequest.checkDigest(bytes.count)
        return Array(bytes)
    }
}

enum ArrowIDs {
    static func objectID(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> ObjectID {
        guard bytes.count == ObjectID.byteCount else {
            throw .invalidValue("object id of \(bytes.count) bytes (must be \(ObjectID.byteCount))")
        }
        return ObjectID(loadingFrom: bytes, at: 0)
    }
}
