/// The 24-byte little-endian header in front of every native frame, in both directions.
///
/// ```
/// offset  size  field
///  0      4     magic          "PLSN" (0x50 0x4C 0x53 0x4E); never zero, so the first 8 bytes of a
///                              native connection can't be mistaken for Arrow's int64 version 0
///  4      2     version        1
///  6      2     type           MessageType; replies set bit 15, events bit 14
///  8      8     request id     request: the client's; reply: the request's, or 0 when the store
///                              speaks for itself before closing; event: the subscription id, or 0
///                              for every subscription of the connection (overflow)
/// 16      4     payload length bytes that follow the header
/// 20      4     reserved       0
/// ```
public struct FrameHeader: Equatable, Sendable {
    public static let size = 24
    public static let magic: UInt32 = 0x4E53_4C50  // bytes "PLSN" in little-endian order
    public static let version: UInt16 = 1

    public var type: UInt16
    public var requestID: UInt64
    public var payloadLength: Int

    public init(type: UInt16, requestID: UInt64, payloadLength: Int) {
        self.type = type
        self.requestID = requestID
        self.payloadLength = payloadLength
    }

    /// True when `raw` starts like a native connection (checks only the magic).
    public static func looksNative(_ raw: UnsafeRawBufferPointer) -> Bool {
        raw.count >= 4 && raw.loadUnaligned(as: UInt32.self) == UInt32(littleEndian: magic)
    }

    /// Decodes and validates a header; nil when fewer than 24 bytes are available.
    public static func decode(
        _ raw: UnsafeRawBufferPointer, maxPayload: Int
    ) throws(WireError) -> FrameHeader? {
        guard raw.count >= size else { return nil }
        let magic = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        guard magic == Self.magic else { throw .badMagic(magic) }
        let version = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let reserved = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
        guard reserved == 0 else { throw .nonzeroReserved(reserved) }
        let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt32.self)))
        guard length <= maxPayload else { throw .frameTooLarge(length: length, limit: maxPayload) }
        return FrameHeader(
            type: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 6, as: UInt16.self)),
            requestID: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            payloadLength: length)
    }

    /// Appends the header; the payload length is patched later by `patchLength`.
    public func encode(into writer: inout ByteWriter) {
        writer.appendFixed(Self.size) { store(to: $0) }
    }

    /// Writes the 24 bytes at `destination`.
    public func store(to destination: UnsafeMutableRawPointer) {
        destination.storeBytes(of: Self.magic.littleEndian, as: UInt32.self)
        destination.storeBytes(of: Self.version.littleEndian, toByteOffset: 4, as: UInt16.self)
        destination.storeBytes(of: type.littleEndian, toByteOffset: 6, as: UInt16.self)
        destination.storeBytes(of: requestID.littleEndian, toByteOffset: 8, as: UInt64.self)
        destination.storeBytes(of: UInt32(truncatingIfNeeded: payloadLength).littleEndian, toByteOffset: 16, as: UInt32.self)
        destination.storeBytes(of: UInt32(0), toByteOffset: 20, as: UInt32.self)
    }

    /// Writes the payload length of the frame that starts at `frameStart`.
    public static func patchLength(in buffer: inout [UInt8], frameStart: Int) {
        let length = UInt32(buffer.count - frameStart - size)
        buffer.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: length.littleEndian, toByteOffset: frameStart + 16, as: UInt32.self)
        }
    }
}
