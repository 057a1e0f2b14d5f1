/// The 24-byte header in front of every Arrow Plasma message, in both directions (all little-endian):
///
/// ```
/// offset  size  field
///  0      8     version   0 (kPlasmaProtocolVersion)
///  8      8     type      ArrowMessageType
/// 16      8     length    payload bytes that follow (a finished flatbuffer)
/// ```
public struct ArrowFrameHeader: Equatable, Sendable {
    public static let size = 24
    public static let protocolVersion: Int64 = 0

    /// The raw type: the decoder of the payload decides whether it knows it.
    public var type: Int64
    public var payloadLength: Int

    public init(type: Int64, payloadLength: Int) {
        self.type = type
        self.payloadLength = payloadLength
    }

    public init(type: ArrowMessageType, payloadLength: Int) {
        self.init(type: type.rawValue, payloadLength: payloadLength)
    }

    /// Decodes and validates a header; nil when fewer than 24 bytes are available. A version other
    /// than 0, a negative length, or a length above `maxPayload` throws before anything is allocated.
    public static func decode(_ raw: UnsafeRawBufferPointer, maxPayload: Int) throws(WireError) -> ArrowFrameHeader? {
        guard raw.count >= size else { return nil }
        let version = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: Int64.self))
        guard version == protocolVersion else {
            throw .invalidValue("Arrow Plasma protocol version \(version) (only 0 exists)")
        }
        let type = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: Int64.self))
        let length = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: Int64.self))
        guard length >= 0 else { throw .invalidValue("negative Arrow payload length \(length)") }
        guard length <= Int64(maxPayload) else { throw .frameTooLarge(length: Int(length), limit: maxPayload) }
        return ArrowFrameHeader(type: type, payloadLength: Int(length))
    }

    public static func decode(_ bytes: [UInt8], maxPayload: Int) throws(WireError) -> ArrowFrameHeader? {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(WireError) in try decode(raw, maxPayload: maxPayload) }
        }
        return try result.get()
    }

    /// Appends the 24 header bytes.
    public func encode(into buffer: inout [UInt8]) {
        for field in [Self.protocolVersion, type, Int64(payloadLength)] {
            withUnsafeBytes(of: field.littleEndian) { buffer.append(contentsOf: $0) }
        }
    }
}

/// Whole Arrow frames: header plus payload.
public enum ArrowFrame {
    public static func encode(type: ArrowMessageType, payload: [UInt8]) -> [UInt8] {
        var frame = [UInt8]()
        frame.reserveCapacity(ArrowFrameHeader.size + payload.count)
        ArrowFrameHeader(type: type, payloadLength: payload.count).encode(into: &frame)
        frame.append(contentsOf: payload)
        return frame
    }

    /// Splits one complete frame (exactly header + payload bytes) and hands the payload to `body`.
    static func withPayload<T>(
        of frame: [UInt8], limits: WireLimits, _ body: (Int64, UnsafeRawBufferPointer) throws(WireError) -> T
    ) throws(WireError) -> T {
        let result = frame.withUnsafeBytes { raw in
            Result { () throws(WireError) -> T in
                guard let header = try ArrowFrameHeader.decode(raw, maxPayload: limits.maxPayload) else {
                    throw .truncated(needed: ArrowFrameHeader.size, available: raw.count)
                }
                let available = raw.count - ArrowFrameHeader.size
                guard available >= header.payloadLength else {
                    throw .truncated(needed: header.payloadLength, available: available)
                }
                guard available == header.payloadLength else { throw .trailingBytes(available - header.payloadLength) }
                return try body(header.type, UnsafeRawBufferPointer(rebasing: raw[ArrowFrameHeader.size...]))
            }
        }
        return try result.get()
    }
}

/// What every Arrow payload decoder starts with, requests and replies alike (after the frame header,
/// `ArrowFrameHeader.decode`, shared too): a message type this dialect knows, a payload within the
/// limits, then its root table, read when the decoder asks (a few messages have nothing to read).
struct ArrowPayloadPreamble {
    let messageType: ArrowMessageType
    let payload: UnsafeRawBufferPointer

    init(type: Int64, payload: UnsafeRawBufferPointer, limits: WireLimits) throws(WireError) {
        guard let messageType = ArrowMessageType(rawValue: type) else { throw .unknownArrowType(type) }
        guard payload.count <= limits.maxPayload else {
            throw .frameTooLarge(length: payload.count, limit: limits.maxPayload)
        }
        self.messageType = messageType
        self.payload = payload
    }

    /// The flatbuffer's root table.
    func root() throws(WireError) -> FlatTable { try FlatBufferReader(payload).root() }
}

/// A request or a reply of the Arrow dialect: each type writes its payload encoder and decoder, and
/// gets the whole-frame conveniences from here.
public protocol ArrowMessage: Equatable, Sendable {
    var messageType: ArrowMessageType { get }
    /// The flatbuffer alone.
    func encodePayload() -> [UInt8]
    static func decode(type: Int64, payload: UnsafeRawBufferPointer, limits: WireLimits) throws(WireError) -> Self
}

extension ArrowMessage {
    /// The whole frame: 24-byte header and flatbuffer payload.
    public func encode() -> [UInt8] { ArrowFrame.encode(type: messageType, payload: encodePayload()) }

    public static func decode(type: Int64, payload: [UInt8], limits: WireLimits = WireLimits()) throws(WireError) -> Self {
        let result = payload.withUnsafeBytes { raw in
            Result { () throws(WireError) in try decode(type: type, payload: raw, limits: limits) }
        }
        return try result.get()
    }

    /// Decodes one complete frame (header and exactly its payload).
    public static func decode(frame: [UInt8], limits: WireLimits = WireLimits()) throws(WireError) -> Self {
        try ArrowFrame.withPayload(of: frame, limits: limits) { (type, payload) throws(WireError) in
            try decode(type: type, payload: payload, limits: limits)
        }
    }
}
