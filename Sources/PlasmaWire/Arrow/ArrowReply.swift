import PlasmaCore

/// Arrow's `PlasmaObjectSpec`: where an object lives. A 48-byte, 8-aligned flatbuffer struct:
///
/// ```
/// offset  field            type
///  0      segment_index    int32   the store's fd number for the segment (4 bytes padding follow)
///  8      data_offset      uint64
/// 16      data_size        uint64  UInt64.max (-1) = not present, in GetReply
/// 24      metadata_offset  uint64
/// 32      metadata_size    uint64
/// 40      device_num       int32   0 = host (4 bytes padding follow)
/// ```
public struct ArrowObjectSpec: Equatable, Sendable {
    public static let byteCount = 48
    public static let alignment = 8
    /// What the C++ store sends in GetReply for an object it doesn't have.
    public static let notFound = ArrowObjectSpec(
        segmentIndex: 0, dataOffset: 0, dataSize: .max, metadataOffset: 0, metadataSize: 0, deviceNum: 0)

    public var segmentIndex: Int32
    public var dataOffset: UInt64
    public var dataSize: UInt64
    public var metadataOffset: UInt64
    public var metadataSize: UInt64
    public var deviceNum: Int32

    public init(
        segmentIndex: Int32, dataOffset: UInt64, dataSize: UInt64, metadataOffset: UInt64,
        metadataSize: UInt64, deviceNum: Int32 = 0
    ) {
        self.segmentIndex = segmentIndex
        self.dataOffset = dataOffset
        self.dataSize = dataSize
        self.metadataOffset = metadataOffset
        self.metadataSize = metadataSize
        self.deviceNum = deviceNum
    }

    /// True unless this is the "not present" marker (data size -1).
    public var isPresent: Bool { dataSize != .max }

    /// Writes the 48 struct bytes, padding zeroed, into `raw` (exactly `byteCount` long).
    func store(to raw: UnsafeMutableRawBufferPointer) {
        raw.storeBytes(of: segmentIndex.littleEndian, toByteOffset: 0, as: Int32.self)
        raw.storeBytes(of: 0, toByteOffset: 4, as: UInt32.self)
        raw.storeBytes(of: dataOffset.littleEndian, toByteOffset: 8, as: UInt64.self)
        raw.storeBytes(of: dataSize.littleEndian, toByteOffset: 16, as: UInt64.self)
        raw.storeBytes(of: metadataOffset.littleEndian, toByteOffset: 24, as: UInt64.self)
        raw.storeBytes(of: metadataSize.littleEndian, toByteOffset: 32, as: UInt64.self)
        raw.storeBytes(of: deviceNum.littleEndian, toByteOffset: 40, as: Int32.self)
        raw.storeBytes(of: 0, toByteOffset: 44, as: UInt32.self)
    }

    init(_ fields: FlatStruct) {
        self.init(
            segmentIndex: fields.scalar(at: 0), dataOffset: fields.scalar(at: 8), dataSize: fields.scalar(at: 16),
            metadataOffset: fields.scalar(at: 24), metadataSize: fields.scalar(at: 32),
            deviceNum: fields.scalar(at: 40))
    }
}

/// Arrow's `ObjectInfo` table (common.fbs), used in ListReply and in notifications.
public struct ArrowObjectInfo: Equatable, Sendable {
    public var objectID: ObjectID
    public var dataSize: Int64
    public var metadataSize: Int64
    public var refCount: Int32
    public var createTime: Int64
    public var constructDuration: Int64
    /// 8 bytes for a sealed object; empty for an unsealed one (ListReply) or a deletion (notification).
    public var digest: [UInt8]
    public var isDeletion: Bool

    public init(
        objectID: ObjectID, dataSize: Int64 = 0, metadataSize: Int64 = 0, refCount: Int32 = 0,
        createTime: Int64 = 0, constructDuration: Int64 = 0, digest: [UInt8] = [], isDeletion: Bool = false
    ) {
        self.objectID = objectID
        self.dataSize = dataSize
        self.metadataSize = metadataSize
        self.refCount = refCount
        self.createTime = createTime
        self.constructDuration = constructDuration
        self.digest = digest
        self.isDeletion = isDeletion
    }

    /// What the C++ store pushes to subscribers when an object is sealed.
    public static func sealed(id: ObjectID, dataSize: Int64, metadataSize: Int64, digest: [UInt8]) -> ArrowObjectInfo {
        ArrowObjectInfo(objectID: id, dataSize: dataSize, metadataSize: metadataSize, digest: digest)
    }

    /// What the C++ store pushes to subscribers when an object is deleted or evicted.
    public static func deleted(id: ObjectID) -> ArrowObjectInfo {
        ArrowObjectInfo(objectID: id, isDeletion: true)
    }
}

/// A reply from an Arrow Plasma store, as pyarrow 11 expects it.
///
/// The encoder always writes every field the C++ client dereferences without a null check (object ids,
/// `plasma_object` even on error, all four GetReply vectors even when empty, `handles` included, the list
/// and its entries' ids and digests, the debug string): a missing one crashes the client. The decoder
/// rejects replies that lack them, so it can check a store the way the real client would depend on it.
public enum ArrowReply: Equatable, Sendable {
    case connect(memoryCapacity: Int64)
    /// `storeFd` must equal `spec.segmentIndex`; `mmapSize` is the whole segment file incl. the 8-byte gap.
    case create(id: ObjectID, spec: ArrowObjectSpec, error: ArrowPlasmaError, storeFd: Int32, mmapSize: Int64)
    case createAndSeal(error: ArrowPlasmaError)
    case createAndSealBatch(error: ArrowPlasmaError)
    case abort(id: ObjectID)
    /// `id` must be the id of the request (the client checks).
    case seal(id: ObjectID, error: ArrowPlasmaError)
    /// `ids` and `specs` in request order (duplicates included); `storeFds` lists every distinct segment
    /// of the found objects, `mmapSizes` their sizes, same length.
    case get(ids: [ObjectID], specs: [ArrowObjectSpec], storeFds: [Int32], mmapSizes: [Int64])
    /// The client reads `count` entries of both lists.
    case delete(count: Int32, ids: [ObjectID], errors: [ArrowPlasmaError])
    case contains(id: ObjectID, hasObject: Bool)
    case list([ArrowObjectInfo])
    case evict(numBytes: UInt64)
    case setOptions(error: ArrowPlasmaError)
    case getDebugString(String)
    case refreshLRU

    public var messageType: ArrowMessageType {
        switch self {
        case .connect: .connectReply
        case .create: .createReply
        case .createAndSeal: .createAndSealReply
        case .createAndSealBatch: .createAndSealBatchReply
        case .abort: .abortReply
        case .seal: .sealReply
        case .get: .getReply
        case .delete: .deleteReply
        case .contains: .containsReply
        case .list: .listReply
        case .evict: .evictReply
        case .setOptions: .setOptionsReply
        case .getDebugString: .getDebugStringReply
        case .refreshLRU: .refreshLRUReply
        }
    }

    /// A delete reply with one error per id and the matching count.
    public static func delete(ids: [ObjectID], errors: [ArrowPlasmaError]) -> ArrowReply {
        .delete(count: Int32(truncatingIfNeeded: ids.count), ids: ids, errors: errors)
    }
}

// MARK: - Encoding

extension ArrowReply {
    /// The flatbuffer alone, built in the order the C++ store 11.0 builds it (so for the same values
    /// the bytes equal what `plasma-store-server` sends).
    public func encodePayload() -> [UInt8] {
        var builder = FlatBufferBuilder()
        let root = build(&builder)
        return builder.finish(root: root)
    }

    /// Appends the whole frame (header and payload) to `frame`, building it in `builder` (reset first):
    /// the store's per-request path, which keeps one builder and writes straight into a connection's
    /// output instead of allocating a builder, a payload and a frame per reply. Same bytes as `encode()`.
    public func encode(into frame: inout [UInt8], using builder: inout FlatBufferBuilder) {
        builder.reset()
        let root = build(&builder)
        let type = messageType.rawValue
        builder.finish(root: root, appendingTo: &frame) { payloadLength, frame in
            withUnsafeBytes(of: (ArrowFrameHeader.protocolVersion.littleEndian, type.littleEndian, Int64(payloadLength).littleEndian)) {
                frame.append(contentsOf: $0)
            }
        }
    }

    /// Builds the payload in `builder`, in the order the C++ store builds it; returns the root table.
    private func build(_ builder: inout FlatBufferBuilder) -> FlatBufferBuilder.Offset {
        let root: FlatBufferBuilder.Offset
        switch self {
        case .connect(let memoryCapacity):
            builder.startTable()
            builder.add(field: 0, memoryCapacity)
            root = builder.endTable()

        case .create(let id, let spec, let error, let storeFd, let mmapSize):
            let idString = builder.createString(id)
            builder.startTable()
            builder.add(field: 2, error.rawValue)
            builder.addStruct(field: 1, byteCount: ArrowObjectSpec.byteCount, alignment: ArrowObjectSpec.alignment, fill: spec.store)
            builder.add(field: 0, idString)
            builder.add(field: 3, storeFd)
            builder.add(field: 4, mmapSize)
            root = builder.endTable()

        case .createAndSeal(let error), .createAndSealBatch(let error), .setOptions(let error):
            builder.startTable()
            builder.add(field: 0, error.rawValue)
            root = builder.endTable()

        case .abort(let id):
            let idString = builder.createString(id)
            builder.startTable()
            builder.add(field: 0, idString)
            root = builder.endTable()

        case .seal(let id, let error):
            let idString = builder.createString(id)
            builder.startTable()
            builder.add(field: 1, error.rawValue)
            builder.add(field: 0, idString)
            root = builder.endTable()

        case .get(let ids, let specs, let storeFds, let mmapSizes):
            let handles = builder.createVector(offsets: [])
            let sizes = builder.createVector(scalars: mmapSizes)
            let fds = builder.createVector(scalars: storeFds)
            let objects = builder.createStructVector(
                count: specs.count, byteCount: ArrowObjectSpec.byteCount, alignment: ArrowObjectSpec.alignment
            ) { index, bytes in specs[index].store(to: bytes) }
            let idList = builder.createIDVector(ids)
            builder.startTable()
            builder.add(field: 4, handles)
            builder.add(field: 3, sizes)
            builder.add(field: 2, fds)
            builder.add(field: 1, objects)
            builder.add(field: 0, idList)
            root = builder.endTable()

        case .delete(let count, let ids, let errors):
            let errorList = builder.createVector(scalars: errors.map(\.rawValue))
            let idList = builder.createIDVector(ids)
            builder.startTable()
            builder.add(field: 2, errorList)
            builder.add(field: 1, idList)
            builder.add(field: 0, count)
            root = builder.endTable()

        case .contains(let id, let hasObject):
            let idString = builder.createString(id)
            builder.startTable()
            builder.add(field: 1, Int32(hasObject ? 1 : 0))
            builder.add(field: 0, idString)
            root = builder.endTable()

        case .list(let objects):
            var infos = [FlatBufferBuilder.Offset]()
            for object in objects {
                // SendListReply: the digest (empty for unsealed objects) first, then the id.
                let digest = builder.createString(object.digest)
                let id = builder.createString(object.objectID.bytes)
                infos.append(builder.addObjectInfo(object, id: id, digest: digest))
            }
            let list = builder.createVector(offsets: infos)
            builder.startTable()
            builder.add(field: 0, list)
            root = builder.endTable()

        case .evict(let numBytes):
            builder.startTable()
            builder.add(field: 0, numBytes)
            root = builder.endTable()

        case .getDebugString(let text):
            let string = builder.createString(text)
            builder.startTable()
            builder.add(field: 0, string)
            root = builder.endTable()

        case .refreshLRU:
            builder.startTable()
            root = builder.endTable()
        }
        return root
    }
}

extension FlatBufferBuilder {
    /// An object id as a 20-byte string, written without an intermediate array.
    mutating func createString(_ id: ObjectID) -> Offset {
        createString(length: ObjectID.byteCount) { id.store(to: $0) }
    }

    /// An ObjectInfo table with its fields in the order of flatc's `CreateObjectInfo` (by size, then
    /// last field first); the id and digest strings must already be built.
    mutating func addObjectInfo(_ info: ArrowObjectInfo, id: Offset, digest: Offset?) -> Offset {
        startTable()
        add(field: 5, info.constructDuration)
        add(field: 4, info.createTime)
        add(field: 2, info.metadataSize)
        add(field: 1, info.dataSize)
        add(field: 6, digest)
        add(field: 3, info.refCount)
        add(field: 0, id)
        add(field: 7, info.isDeletion)
        return endTable()
    }
}

// MARK: - Decoding

extension ArrowReply: ArrowMessage {
    /// Decodes a reply payload of the given header type; throws for request types, unused types and
    /// anything malformed, including a reply missing a field the pyarrow client requires.
    public static func decode(
        type: Int64, payload: UnsafeRawBufferPointer, limits: WireLimits = WireLimits()
    ) throws(WireError) -> ArrowReply {
        let preamble = try ArrowPayloadPreamble(type: type, payload: payload, limits: limits)
        let decoder = { () throws(WireError) -> FlatTable in try preamble.root() }
        let items = limits.maxItems
        switch preamble.messageType {
        case .connectReply:
            return .connect(memoryCapacity: try decoder().scalar(0))

        case .createReply:
            let table = try decoder()
            guard let spec = try table.structField(1, size: ArrowObjectSpec.byteCount) else {
                throw .invalidValue("CreateReply without plasma_object")
            }
            return .create(
                id: try table.objectID(0), spec: ArrowObjectSpec(spec), error: try table.plasmaError(2),
                storeFd: try table.scalar(3), mmapSize: try table.scalar(4))

        case .createAndSealReply: return .createAndSeal(error: try decoder().plasmaError(0))
        case .createAndSealBatchReply: return .createAndSealBatch(error: try decoder().plasmaError(0))
        case .setOptionsReply: return .setOptions(error: try decoder().plasmaError(0))
        case .abortReply: return .abort(id: try decoder().objectID(0))

        case .sealReply:
            let table = try decoder()
            return .seal(id: try table.objectID(0), error: try table.plasmaError(1))

        case .getReply:
            let table = try decoder()
            guard let ids = try table.objectIDs(0, limit: items) else { throw .invalidValue("GetReply without object_ids") }
            guard let objects = try table.vector(1, elementSize: ArrowObjectSpec.byteCount, limit: items),
                let fds = try table.vector(2, elementSize: 4, limit: items),
                let sizes = try table.vector(3, elementSize: 8, limit: items)
            else { throw .invalidValue("GetReply without plasma_objects, store_fds or mmap_sizes") }
            guard objects.count == ids.count else {
                throw .invalidValue("GetReply with \(ids.count) ids but \(objects.count) objects")
            }
            guard fds.count == sizes.count else {
                throw .invalidValue("GetReply with \(fds.count) store_fds but \(sizes.count) mmap_sizes")
            }
            // handles (field 4) is CUDA-only: checked for shape when present, otherwise ignored.
            _ = try table.vector(4, elementSize: 4, limit: items)
            return .get(
                ids: ids, specs: (0..<objects.count).map { ArrowObjectSpec(objects.structElement(at: $0)) },
                storeFds: (0..<fds.count).map { fds.scalar(at: $0) },
                mmapSizes: (0..<sizes.count).map { sizes.scalar(at: $0) })

        case .deleteReply:
            let table = try decoder()
            let count: Int32 = try table.scalar(0)
            let ids = try table.objectIDs(1, limit: items) ?? []
            let errorVector = try table.vector(2, elementSize: 4, limit: items)
            var errors = [ArrowPlasmaError]()
            for index in 0..<(errorVector?.count ?? 0) {
                errors.append(try ArrowPlasmaError.decoding(errorVector!.scalar(at: index)))
            }
            guard count >= 0, Int(count) <= ids.count, Int(count) <= errors.count else {
                throw .invalidValue("DeleteReply count \(count) with \(ids.count) ids and \(errors.count) errors")
            }
            return .delete(count: count, ids: ids, errors: errors)

        case .containsReply:
            let table = try decoder()
            let hasObject: Int32 = try table.scalar(1)
            return .contains(id: try table.objectID(0), hasObject: hasObject != 0)

        case .listReply:
            let table = try decoder()
            guard let vector = try table.vector(0, elementSize: 4, limit: items) else {
                throw .invalidValue("ListReply without objects")
            }
            var objects = [ArrowObjectInfo]()
            objects.reserveCapacity(vector.count)
            for index in 0..<vector.count {
                let info = try ArrowObjectInfo(try vector.table(at: index), requireDigest: true)
                objects.append(info)
            }
            return .list(objects)

        case .evictReply: return .evict(numBytes: try decoder().scalar(0))

        case .getDebugStringReply:
            guard let text = try decoder().string(0) else { throw .invalidValue("GetDebugStringReply without text") }
            return .getDebugString(text)

        case .refreshLRUReply:
            _ = try decoder()
            return .refreshLRU

        case .disconnectClient, .unsubscribeRequest, .dataRequest, .dataReply, .notification, .releaseReply,
            .createRequest, .createAndSealRequest, .abortRequest, .sealRequest, .getRequest, .releaseRequest,
            .deleteRequest, .containsRequest, .listRequest, .connectRequest, .evictRequest, .subscribeRequest,
            .setOptionsRequest, .getDebugStringRequest, .createAndSealBatchRequest, .refreshLRURequest:
            throw .unknownArrowType(type)
        }
    }

}

extension ArrowPlasmaError {
    static func decoding(_ raw: Int32) throws(WireError) -> ArrowPlasmaError {
        guard let error = ArrowPlasmaError(rawValue: raw) else { throw .invalidValue("Plasma error code \(raw)") }
        return error
    }
}

extension FlatTable {
    func plasmaError(_ id: Int) throws(WireError) -> ArrowPlasmaError {
        try ArrowPlasmaError.decoding(try scalar(id))
    }
}

extension ArrowObjectInfo {
    /// Decodes an ObjectInfo table. The id is required (20 bytes); a missing digest reads as empty
    /// unless `requireDigest` (ListReply, where the client dereferences it).
    init(_ table: FlatTable, requireDigest: Bool) throws(WireError) {
        if requireDigest, try !table.has(6) { throw .invalidValue("ObjectInfo without digest") }
        self.init(
            objectID: try table.objectID(0), dataSize: try table.scalar(1), metadataSize: try table.scalar(2),
            refCount: try table.scalar(3), createTime: try table.scalar(4), constructDuration: try table.scalar(5),
            digest: try table.bytes(6) ?? [], isDeletion: try table.bool(7))
        guard digest.isEmpty || digest.count == ArrowRequest.digestSize else {
            throw .invalidValue("digest of \(digest.count) bytes (must be 0 or \(ArrowRequest.digestSize))")
        }
    }
}
