/// One message on the notification socket a client passes with `SubscribeRequest`.
///
/// Framing there differs from the main socket: an int64 size in host byte order (the C++ store writes
/// it raw; pyarrow's test reads it with `struct.unpack('L')`), then that many bytes of a
/// `PlasmaNotification { object_info: [ObjectInfo] }` flatbuffer. No version or type header.
///
/// The C++ store sends one entry per message, except for a batch seal (one message, all entries).
/// Entries are built like its `CreateObjectInfo(fbb, ObjectInfoT*)`: an empty digest is left out.
public struct ArrowNotification: Equatable, Sendable {
    public static let sizePrefixBytes = 8

    public var objects: [ArrowObjectInfo]

    public init(_ objects: [ArrowObjectInfo]) { self.objects = objects }

    /// Size prefix and flatbuffer, ready for one `send()`.
    public func encode() -> [UInt8] {
        let payload = encodePayload()
        var message = [UInt8]()
        message.reserveCapacity(Self.sizePrefixBytes + payload.count)
        withUnsafeBytes(of: Int64(payload.count)) { message.append(contentsOf: $0) }  // host order
        message.append(contentsOf: payload)
        return message
    }

    /// The flatbuffer alone.
    public func encodePayload() -> [UInt8] {
        var builder = FlatBufferBuilder()
        var infos = [FlatBufferBuilder.Offset]()
        for object in objects {
            let id = builder.createString(object.objectID.bytes)
            let digest = object.digest.isEmpty ? nil : builder.createString(object.digest)
            infos.append(builder.addObjectInfo(object, id: id, digest: digest))
        }
        let list = builder.createVector(offsets: infos)
        builder.startTable()
        builder.add(field: 0, list)
        return builder.finish(root: builder.endTable())
    }

    /// Decodes a notification flatbuffer (without its size prefix).
    public static func decode(
        payload: UnsafeRawBufferPointer, limits: WireLimits = WireLimits()
    ) throws(WireError) -> ArrowNotification {
        guard payload.count <= limits.maxPayload else {
            throw .frameTooLarge(length: payload.count, limit: limits.maxPayload)
        }
        let table = try FlatBufferReader(payload).root()
        guard let vector = try table.vector(0, elementSize: 4, limit: limits.maxItems) else {
            throw .invalidValue("PlasmaNotification without object_info")
        }
        var objects = [ArrowObjectInfo]()
        objects.reserveCapacity(vector.count)
        for index in 0..<vector.count {
            objects.append(try ArrowObjectInfo(try vector.table(at: index), requireDigest: false))
        }
        return ArrowNotification(objects)
    }

    /// Decodes one whole message: the 8-byte size and exactly that many bytes.
    public static func decode(message: [UInt8], limits: WireLimits = WireLimits()) throws(WireError) -> ArrowNotification {
        let result = message.withUnsafeBytes { raw in
            Result { () throws(WireError) -> ArrowNotification in
                guard let size = try payloadSize(raw, maxPayload: limits.maxPayload) else {
                    throw .truncated(needed: sizePrefixBytes, available: raw.count)
                }
                let available = raw.count - sizePrefixBytes
                guard available >= size else { throw .truncated(needed: size, available: available) }
                guard available == size else { throw .trailingBytes(available - size) }
                return try decode(payload: UnsafeRawBufferPointer(rebasing: raw[sizePrefixBytes...]), limits: limits)
            }
        }
        return try result.get()
    }

    /// The payload size announced by the first 8 bytes; nil when fewer are available.
    public static func payloadSize(_ raw: UnsafeRawBufferPointer, maxPayload: Int) throws(WireError) -> Int? {
        guard raw.count >= sizePrefixBytes else { return nil }
        let size = raw.loadUnaligned(fromByteOffset: 0, as: Int64.self)  // host order
        guard size >= 0 else { throw .invalidValue("negative notification size \(size)") }
        guard size <= Int64(maxPayload) else { throw .frameTooLarge(length: Int(size), limit: maxPayload) }
        return Int(size)
    }
}
