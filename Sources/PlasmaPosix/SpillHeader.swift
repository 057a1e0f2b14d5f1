/// The 64 bytes at the start of every spill file, all integers little-endian:
///
///     0  magic "PLSPILL\0"   8  format version (UInt32, 1)   12  zero (UInt32)
///    16  key: the object id (20 bytes)                       36  zero (UInt32)
///    40  data size (UInt64)  48  metadata size (UInt64)      56  XXH64 (seed 0) of data + metadata
///
/// A restore checks every field against what the store expects, so that a file from another object,
/// another format or another program, a truncated or a damaged one, is reported instead of restored.
public struct SpillHeader: Equatable, Sendable {
    public static let byteCount = 64
    public static let keyByteCount = 20
    static let magic: [UInt8] = Array("PLSPILL\0".utf8)
    static let version: UInt32 = 1

    public var key: [UInt8]
    public var dataSize: Int
    public var metadataSize: Int
    public var checksum: UInt64

    public init(key: [UInt8], dataSize: Int, metadataSize: Int, checksum: UInt64) {
        precondition(key.count == Self.keyByteCount && dataSize >= 0 && metadataSize >= 0)
        self.key = key
        self.dataSize = dataSize
        self.metadataSize = metadataSize
        self.checksum = checksum
    }

    public var bodySize: Int { dataSize + metadataSize }

    public var bytes: [UInt8] {
        var bytes = Self.magic
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        append(Self.version)
        append(UInt32(0))
        bytes += key
        append(UInt32(0))
        append(UInt64(dataSize))
        append(UInt64(metadataSize))
        append(checksum)
        return bytes
    }

    /// Decodes a header; nil (with why) unless magic and version are this format's.
    public static func decode(_ raw: UnsafeRawBufferPointer) -> Result<SpillHeader, SpillFileError.Damage> {
        guard raw.count == byteCount else { return .failure(.header("\(raw.count) header bytes, not \(byteCount)")) }
        func load<T: FixedWidthInteger>(_ offset: Int, as: T.Type) -> T { T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        guard Array(raw[0..<8]) == magic else { return .failure(.header("bad magic: not a spill file")) }
        let version = load(8, as: UInt32.self)
        guard version == Self.version else { return .failure(.header("format version \(version), not \(Self.version)")) }
        let dataSize = load(40, as: UInt64.self), metadataSize = load(48, as: UInt64.self)
        guard dataSize <= UInt64(Int.max / 2), metadataSize <= UInt64(Int.max / 2) else {
            return .failure(.header("impossible sizes \(dataSize) + \(metadataSize)"))
        }
        return .success(SpillHeader(
            key: Array(raw[16..<36]), dataSize: Int(dataSize), metadataSize: Int(metadataSize),
            checksum: load(56, as: UInt64.self)))
    }
}
