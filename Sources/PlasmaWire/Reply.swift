import PlasmaCore

/// A native reply. The payload starts with a u16 status; a failure carries a message after it,
/// a success the body that belongs to the request's type.
public enum Reply: Sendable, Equatable {
    case failure(PlasmaStatus, message: String)
    /// The arena descriptor rides on this reply's first byte (SCM_RIGHTS).
    case connected(capacity: Int, arenaSize: Int, clientID: UInt64)
    case created(offset: Int)
    case done
    /// One status per item of a batch create-and-seal, release or delete, in request order.
    case statuses([PlasmaStatus])
    /// One entry per requested id, in request order; nil where the object isn't (yet) sealed.
    case objects([ObjectLocation?])
    case contains(Bool)
    case evicted(bytes: Int, objects: Int)
    case list([ObjectInfo])
    /// The rows with their extension (origin), for a `listWithOrigins` request; decoded as this, with
    /// each row's `origin` filled in.
    case listWithOrigins([ObjectInfo])
    case stats(StoreStatistics)
}

extension Reply {
    /// Appends one whole reply frame for a request of `type`.
    public func encode(type: MessageType, requestID: UInt64, into writer: inout ByteWriter) {
        let frameStart = writer.buffer.count
        FrameHeader(type: type.replyType, requestID: requestID, payloadLength: 0).encode(into: &writer)
        switch self {
        case .failure(let status, let message):
            writer.append(status.rawValue)
            writer.append(message)
        default:
            writer.append(PlasmaStatus.ok.rawValue)
            encodeBody(into: &writer)
        }
        FrameHeader.patchLength(in: &writer.buffer, frameStart: frameStart)
    }

    private func encodeBody(into writer: inout ByteWriter) {
        switch self {
        case .failure, .done:
            break
        case .connected(let capacity, let arenaSize, let clientID):
            writer.append(UInt64(capacity))
            writer.append(UInt64(arenaSize))
            writer.append(clientID)
        case .created(let offset):
            writer.append(UInt64(offset))
        case .statuses(let statuses):
            writer.append(UInt32(statuses.count))
            for status in statuses { writer.append(status.rawValue) }
        case .objects(let locations):
            writer.append(UInt32(locations.count))
            for location in locations {
                writer.append(location != nil)
                writer.append(UInt64(location?.offset ?? 0))
                writer.append(UInt64(location?.dataSize ?? 0))
                writer.append(UInt64(location?.metadataSize ?? 0))
            }
        case .contains(let present):
            writer.append(present)
        case .evicted(let bytes, let objects):
            writer.append(UInt64(bytes))
            writer.append(UInt64(objects))
        case .list(let infos):
            writer.append(UInt32(infos.count))
            for info in infos { Self.encode(info, into: &writer) }
        case .listWithOrigins(let infos):
            writer.append(UInt32(infos.count) | Self.listRowsCarryExtension)
            for info in infos {
                Self.encode(info, into: &writer)
                Self.encodeExtension(origin: info.origin, into: &writer)
            }
        case .stats(let statistics):
            let values = statistics.fieldValues
            writer.append(UInt32(values.count))
            for value in values { writer.append(value) }
        }
    }

    /// Bytes of one list entry.
    public static let encodedObjectInfoSize = ObjectID.byteCount + 8 * 3 + 1 + 8 + 8 + 1

    /// Appends one list entry (for a list reply assembled a slice at a time: a frame header, the
    /// status, a u32 count patched once the entries are in, then the entries).
    public static func encode(_ info: ObjectInfo, into writer: inout ByteWriter) {
        writer.append(info.id)
        writer.append(UInt64(info.dataSize))
        writer.append(UInt64(info.metadataSize))
        writer.append(UInt64(info.referenceCount))
        writer.append(info.state.rawValue)
        writer.append(info.createdAtNanoseconds)
        writer.append(info.sealDurationNanoseconds)
        writer.append(info.deletePending)
    }

    /// Set in a list reply's count when each row is followed by its extension: a u16 length `E`, then
    /// `E` bytes, of which a reader takes what it knows and skips the rest (rows grow compatibly).
    /// Only a client that asked for it (`Request.listWithOrigins`) gets it.
    public static let listRowsCarryExtension: UInt32 = 1 << 31

    /// Appends a row's extension: u16 length, then the origin (u16 length + UTF-8, empty for none).
    public static func encodeExtension(origin: String?, into writer: inout ByteWriter) {
        let name = Array((origin ?? "").utf8.prefix(Int(UInt16.max) - 2))
        writer.append(UInt16(2 + name.count))
        writer.append(UInt16(name.count))
        for byte in name { writer.append(byte) }
    }

    /// Decodes a reply payload; `type` is the header's type with the reply bit set.
    public static func decode(type rawType: UInt16, payload: UnsafeRawBufferPointer) throws(WireError) -> Reply {
        guard rawType & MessageType.replyBit != 0,
              let type = MessageType(rawValue: rawType & ~MessageType.replyBit)
        else { throw .unknownMessageType(rawType) }
        var reader = ByteReader(payload)
        let status = try readStatus(&reader)
        let reply: Reply
        if status != .ok {
            reply = .failure(status, message: try reader.readString())
        } else {
            reply = try decodeBody(type: type, reader: &reader)
        }
        try reader.expectEnd()
        return reply
    }

    private static func readStatus(_ reader: inout ByteReader) throws(WireError) -> PlasmaStatus {
        let raw: UInt16 = try reader.read()
        guard let status = PlasmaStatus(rawValue: raw) else { throw .invalidValue("status \(raw)") }
        return status
    }

    private static func decodeBody(type: MessageType, reader: inout ByteReader) throws(WireError) -> Reply {
        let noLimit = Int(UInt32.max)
        switch type {
        case .connect:
            return .connected(
                capacity: try reader.readSize(), arenaSize: try reader.readSize(), clientID: try reader.read())
        case .create:
            return .created(offset: try reader.readSize())
        case .seal, .abort, .createAndSeal, .cancel, .subscribe, .unsubscribe:
            return .done
        case .createAndSealBatch, .release, .delete:
            let count = try reader.readCount(minimumItemSize: 2, limit: noLimit)
            var statuses = [PlasmaStatus]()
            statuses.reserveCapacity(count)
            for _ in 0..<count { statuses.append(try readStatus(&reader)) }
            return .statuses(statuses)
        case .get:
            let count = try reader.readCount(minimumItemSize: 25, limit: noLimit)
            var locations = [ObjectLocation?]()
            locations.reserveCapacity(count)
            for _ in 0..<count {
                let found = try reader.readBool()
                let location = ObjectLocation(
                    offset: try reader.readSize(), dataSize: try reader.readSize(),
                    metadataSize: try reader.readSize())
                locations.append(found ? location : nil)
            }
            return .objects(locations)
        case .contains:
            return .contains(try reader.readBool())
        case .evict:
            return .evicted(bytes: try reader.readSize(), objects: try reader.readSize())
        case .list:
            let rawCount: UInt32 = try reader.read()
            let extended = rawCount & listRowsCarryExtension != 0
            let count = Int(rawCount & ~listRowsCarryExtension)
            guard count * encodedObjectInfoSize <= reader.remaining else {
                throw .truncated(needed: count * encodedObjectInfoSize, available: reader.remaining)
            }
            var infos = [ObjectInfo]()
            infos.reserveCapacity(count)
            for _ in 0..<count {
                var info = try decodeObjectInfo(&reader)
                if extended { info.origin = try decodeExtension(&reader) }
                infos.append(info)
            }
            // The form it was sent in, so that a decoded reply encodes back to the same bytes.
            return extended ? .listWithOrigins(infos) : .list(infos)
        case .stats:
            // Newer stores may append fields; read the ones we know and skip the rest.
            let count = try reader.readCount(minimumItemSize: 8, limit: noLimit)
            var values = [Int64]()
            for _ in 0..<count { values.append(try reader.read()) }
            return .stats(StoreStatistics(fieldValues: values))
        }
    }

    /// A row's extension: the origin (nil when empty); bytes after what this reader knows are skipped.
    private static func decodeExtension(_ reader: inout ByteReader) throws(WireError) -> String? {
        let length = Int(try reader.read() as UInt16)
        var fields = ByteReader(try reader.readRaw(length))
        guard fields.remaining >= 2 else { return nil }
        let nameLength = Int(try fields.read() as UInt16)
        let name = try fields.readRaw(nameLength)
        guard !name.isEmpty else { return nil }
        return String(decoding: name, as: UTF8.self)
    }

    private static func decodeObjectInfo(_ reader: inout ByteReader) throws(WireError) -> ObjectInfo {
        let id = try reader.readID()
        let dataSize = try reader.readSize()
        let metadataSize = try reader.readSize()
        let referenceCount = try reader.readSize()
        let rawState: UInt8 = try reader.read()
        guard let state = ObjectInfo.State(rawValue: rawState) else { throw .invalidValue("state \(rawState)") }
        return ObjectInfo(
            id: id, dataSize: dataSize, metadataSize: metadataSize, referenceCount: referenceCount, state: state,
            createdAtNanoseconds: try reader.read(), sealDurationNanoseconds: try reader.read(),
            deletePending: try reader.readBool())
    }
}
