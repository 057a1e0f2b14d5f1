import PlasmaCore

extension ObjectEvent {
    /// Appends one event frame. `subscriptionID` goes in the request-id field; 0 means every
    /// subscription of the connection (overflow).
    public func encode(subscriptionID: UInt64, into writer: inout ByteWriter) {
        // Once per event per subscriber: the whole frame is built in scratch space and appended once.
        let size = frameSize
        writer.appendFixed(size) { frame in
            FrameHeader(type: MessageType.eventBit | kind, requestID: subscriptionID, payloadLength: size - FrameHeader.size)
                .store(to: frame)
            let payload = frame + FrameHeader.size
            switch self {
            case .sealed(let id, let dataSize, let metadataSize):
                id.store(to: payload)
                payload.storeBytes(of: UInt64(dataSize).littleEndian, toByteOffset: ObjectID.byteCount, as: UInt64.self)
                payload.storeBytes(of: UInt64(metadataSize).littleEndian, toByteOffset: ObjectID.byteCount + 8, as: UInt64.self)
            case .deleted(let id), .evicted(let id), .aborted(let id):
                id.store(to: payload)
            case .overflow(let dropped):
                payload.storeBytes(of: UInt64(dropped).littleEndian, as: UInt64.self)
            }
        }
    }

    /// Encoded size of an event frame, for queue accounting without encoding.
    public var frameSize: Int {
        switch self {
        case .sealed: FrameHeader.size + ObjectID.byteCount + 16
        case .deleted, .evicted, .aborted: FrameHeader.size + ObjectID.byteCount
        case .overflow: FrameHeader.size + 8
        }
    }

    public static func decode(type: UInt16, payload: UnsafeRawBufferPointer) throws(WireError) -> ObjectEvent {
        guard type & MessageType.eventBit != 0 else { throw .unknownMessageType(type) }
        var reader = ByteReader(payload)
        let event: ObjectEvent
        switch type & ~MessageType.eventBit {
        case 1: event = .sealed(try reader.readID(), dataSize: try reader.readSize(), metadataSize: try reader.readSize())
        case 2: event = .deleted(try reader.readID())
        case 3: event = .evicted(try reader.readID())
        case 4: event = .aborted(try reader.readID())
        case 5: event = .overflow(droppedEvents: try reader.readSize())
        default: throw .unknownMessageType(type)
        }
        try reader.expectEnd()
        return event
    }
}

extension SubscriptionFilter {
    func encode(into writer: inout ByteWriter) {
        switch self {
        case .all:
            writer.append(UInt8(0))
        case .ids(let ids):
            writer.append(UInt8(1))
            writer.append(ids)
        case .prefix(let bytes):
            writer.append(UInt8(2))
            writer.appendBytes(bytes)
        }
    }

    static func decode(_ reader: inout ByteReader, limits: WireLimits) throws(WireError) -> SubscriptionFilter {
        let kind: UInt8 = try reader.read()
        switch kind {
        case 0: return .all
        case 1: return .ids(try reader.readIDs(limit: limits.maxItems))
        case 2:
            let bytes = try reader.readBytes()
            guard (1...ObjectID.byteCount).contains(bytes.count) else {
                throw .invalidValue("prefix of \(bytes.count) bytes (1 to \(ObjectID.byteCount))")
            }
            return .prefix(bytes)
        default: throw .invalidValue("subscription filter kind \(kind)")
        }
    }
}
