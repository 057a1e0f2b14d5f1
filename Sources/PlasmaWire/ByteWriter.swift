import PlasmaCore

/// Appends little-endian fields to a byte array.
public struct ByteWriter {
    public var buffer: [UInt8]

    public init(buffer: [UInt8] = [], reservingCapacity capacity: Int = 0) {
        self.buffer = buffer
        if capacity > 0 { self.buffer.reserveCapacity(buffer.count + capacity) }
    }

    @inlinable
    public mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
    }

    public mutating func append(_ id: ObjectID) {
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: ObjectID.byteCount))
        buffer.withUnsafeMutableBytes { raw in id.store(to: raw.baseAddress! + start) }
    }

    public mutating func append(_ flag: Bool) { append(UInt8(flag ? 1 : 0)) }

    /// A byte string: u32 length, then the bytes.
    public mutating func appendBytes(_ bytes: some Collection<UInt8>) {
        append(UInt32(bytes.count))
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ text: String) { appendBytes(Array(text.utf8)) }

    /// A list of ids: u32 count, then 20 bytes each.
    public mutating func append(_ ids: [ObjectID]) {
        append(UInt32(ids.count))
        for id in ids { append(id) }
    }
}
