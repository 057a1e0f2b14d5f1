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
        appendFixed(ObjectID.byteCount) { id.store(to: $0) }
    }

    /// Appends `count` bytes that `body` stores into scratch space first: one append for a whole
    /// fixed-size record instead of one per field (an append costs far more than a store).
    @inlinable
    public mutating func appendFixed(_ count: Int, _ body: (UnsafeMutableRawPointer) -> Void) {
        withUnsafeTemporaryAllocation(byteCount: count, alignment: 8) { scratch in
            body(scratch.baseAddress!)
            buffer.append(contentsOf: UnsafeRawBufferPointer(scratch))
        }
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
