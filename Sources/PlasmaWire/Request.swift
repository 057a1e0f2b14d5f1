import PlasmaCore

/// A native request. Timeouts are milliseconds: 0 = don't wait, -1 = wait forever.
public enum Request: Sendable, Equatable {
    case connect(clientName: String)
    /// Reserves `dataSize + metadataSize` bytes; the creator writes them at the reply's offset.
    case create(id: ObjectID, dataSize: Int, metadataSize: Int, timeoutMilliseconds: Int64)
    case seal(id: ObjectID)
    case abort(id: ObjectID)
    case createAndSeal(InlineObject, timeoutMilliseconds: Int64)
    /// Never waits for space: an item that doesn't fit gets `outOfMemory` in its status.
    case createAndSealBatch([InlineObject])
    case get(ids: [ObjectID], timeoutMilliseconds: Int64)
    case release(ids: [ObjectID])
    case contains(id: ObjectID)
    case delete(ids: [ObjectID])
    case evict(bytes: Int)
    case list
    /// A list whose rows carry their extension (the origin node of pulled copies): the list request
    /// with a 1-byte payload, row format 1 (docs/PROTOCOL.md, section 7.1).
    case listWithOrigins
    case stats
    /// Withdraws a waiting get or create of this client. The store answers the withdrawn request
    /// (`cancelled`, unless it was already answered) before it answers the cancel.
    case cancel(requestID: UInt64)
    /// Starts delivering events that match `filter`, tagged with `subscriptionID` (chosen by the
    /// client, nonzero). Ids already sealed get their `sealed` event at once.
    case subscribe(subscriptionID: UInt64, filter: SubscriptionFilter)
    case unsubscribe(subscriptionID: UInt64)

    public var messageType: MessageType {
        switch self {
        case .connect: .connect
        case .create: .create
        case .seal: .seal
        case .abort: .abort
        case .createAndSeal: .createAndSeal
        case .createAndSealBatch: .createAndSealBatch
        case .get: .get
        case .release: .release
        case .contains: .contains
        case .delete: .delete
        case .evict: .evict
        case .list, .listWithOrigins: .list
        case .stats: .stats
        case .cancel: .cancel
        case .subscribe: .subscribe
        case .unsubscribe: .unsubscribe
        }
    }
}

/// Limits a decoder enforces before it allocates anything for a request.
public struct WireLimits: Sendable {
    /// Largest payload accepted in one frame.
    public var maxPayload: Int
    /// Most ids (or inline objects) in one request.
    public var maxItems: Int

    public init(maxPayload: Int = 64 << 20, maxItems: Int = 1 << 16) {
        self.maxPayload = maxPayload
        self.maxItems = maxItems
    }
}

extension Request {
    /// Appends one whole frame (header and payload) for this request.
    public func encode(requestID: UInt64, into writer: inout ByteWriter) {
        let frameStart = writer.buffer.count
        FrameHeader(type: messageType.rawValue, requestID: requestID, payloadLength: 0).encode(into: &writer)
        switch self {
        case .connect(let clientName):
            writer.append(clientName)
        case .create(let id, let dataSize, let metadataSize, let timeout):
            writer.append(id)
            writer.append(UInt64(dataSize))
            writer.append(UInt64(metadataSize))
            writer.append(timeout)
        case .seal(let id), .abort(let id), .contains(let id):
            writer.append(id)
        case .createAndSeal(let object, let timeout):
            writer.append(timeout)
            Self.encode(object, into: &writer)
        case .createAndSealBatch(let objects):
            writer.append(UInt32(objects.count))
            for object in objects { Self.encode(object, into: &writer) }
        case .get(let ids, let timeout):
            writer.append(timeout)
            writer.append(ids)
        case .release(let ids), .delete(let ids):
            writer.append(ids)
        case .evict(let bytes):
            writer.append(UInt64(bytes))
        case .list, .stats:
            break
        case .listWithOrigins:
            writer.append(Self.listRowFormatWithExtension)
        case .cancel(let requestID), .unsubscribe(let requestID):
            writer.append(requestID)
        case .subscribe(let subscriptionID, let filter):
            writer.append(subscriptionID)
            filter.encode(into: &writer)
        }
        FrameHeader.patchLength(in: &writer.buffer, frameStart: frameStart)
    }

    private static func encode(_ object: InlineObject, into writer: inout ByteWriter) {
        writer.append(object.id)
        writer.appendBytes(object.data)
        writer.appendBytes(object.metadata)
    }

    /// The list request's optional payload byte asking for rows with their extension.
    public static let listRowFormatWithExtension: UInt8 = 1

    /// Decodes a request payload of the given type; throws on anything malformed.
    public static func decode(
        type rawType: UInt16, payload: UnsafeRawBufferPointer, limits: WireLimits
    ) throws(WireError) -> Request {
        guard let type = MessageType(rawValue: rawType) else { throw .unknownMessageType(rawType) }
        var reader = ByteReader(payload)
        let request: Request
        switch type {
        case .connect:
            request = .connect(clientName: try reader.readString())
        case .create:
            request = .create(
                id: try reader.readID(), dataSize: try reader.readSize(), metadataSize: try reader.readSize(),
                timeoutMilliseconds: try readTimeout(&reader))
        case .seal: request = .seal(id: try reader.readID())
        case .abort: request = .abort(id: try reader.readID())
        case .contains: request = .contains(id: try reader.readID())
        case .createAndSeal:
            let timeout = try readTimeout(&reader)
            request = .createAndSeal(try readInlineObject(&reader), timeoutMilliseconds: timeout)
        case .createAndSealBatch:
            let count = try reader.readCount(minimumItemSize: ObjectID.byteCount + 8, limit: limits.maxItems)
            var objects = [InlineObject]()
            objects.reserveCapacity(count)
            for _ in 0..<count { objects.append(try readInlineObject(&reader)) }
            request = .createAndSealBatch(objects)
        case .get:
            let timeout = try readTimeout(&reader)
            request = .get(ids: try reader.readIDs(limit: limits.maxItems), timeoutMilliseconds: timeout)
        case .release: request = .release(ids: try reader.readIDs(limit: limits.maxItems))
        case .delete: request = .delete(ids: try reader.readIDs(limit: limits.maxItems))
        case .evict: request = .evict(bytes: try reader.readSize())
        case .list:
            guard reader.remaining > 0 else { request = .list; break }
            let format: UInt8 = try reader.read()
            // Any other byte is what it always was: bytes after the (empty) message.
            guard format == Self.listRowFormatWithExtension else { throw .trailingBytes(reader.remaining + 1) }
            request = .listWithOrigins
        case .stats: request = .stats
        case .cancel: request = .cancel(requestID: try reader.read())
        case .subscribe:
            request = .subscribe(subscriptionID: try reader.read(), filter: try SubscriptionFilter.decode(&reader, limits: limits))
        case .unsubscribe: request = .unsubscribe(subscriptionID: try reader.read())
        }
        try reader.expectEnd()
        return request
    }

    private static func readTimeout(_ reader: inout ByteReader) throws(WireError) -> Int64 {
        let timeout: Int64 = try reader.read()
        guard timeout >= -1 else { throw .invalidValue("timeout \(timeout) ms") }
        return timeout
    }

    private static func readInlineObject(_ reader: inout ByteReader) throws(WireError) -> InlineObject {
        InlineObject(id: try reader.readID(), data: try reader.readBytes(), metadata: try reader.readBytes())
    }
}
