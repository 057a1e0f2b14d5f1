import PlasmaCore

/// Reads little-endian fields from a payload, checking every length against what is there.
public struct ByteReader {
    private let raw: UnsafeRawBufferPointer
    public private(set) var offset = 0

    public init(_ raw: UnsafeRawBufferPointer) { self.raw = raw }

    public var remaining: Int { raw.count - offset }

    private mutating func take(_ count: Int) throws(WireError) -> Int {
        guard count >= 0, count <= remaining else { throw .truncated(needed: count, available: remaining) }
        defer { offset += count }
        return offset
    }

    public mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws(WireError) -> T {
        let at = try take(MemoryLayout<T>.size)
        return T(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: T.self))
    }

    public mutating func readBool() throws(WireError) -> Bool {
        let value: UInt8 = try read()
        guard value <= 1 else { throw .invalidValue("boolean \(value)") }
        return value == 1
    }

    /// A size or offset: a u64 that must fit a non-negative Int.
    public mutating func readSize() throws(WireError) -> Int {
        let value: UInt64 = try read()
        guard value <= UInt64(Int64.max) else { throw .invalidValue("size \(value)") }
        return Int(value)
    }

    public mutating func readID() throws(WireError) -> ObjectID {
        let at = try take(ObjectID.byteCount)
        return ObjectID(loadingFrom: raw, at: at)
    }

    public mutating func readBytes() throws(WireError) -> [UInt8] {
        let count = Int(try read(UInt32.self))
        let at = try take(count)
        return Array(UnsafeRawBufferPointer(rebasing: raw[at..<at + count]))
    }

    public mutating func readString() throws(WireError) -> String {
        String(decoding: try readBytes(), as: UTF8.self)
    }

    /// A count for a list whose items each need at least `minimumItemSize` bytes: rejects counts the
    /// payload can't possibly hold before anything is allocated for them.
    public mutating func readCount(minimumItemSize: Int, limit: Int) throws(WireError) -> Int {
        let count = Int(try read(UInt32.self))
        guard count <= limit else { throw .tooManyItems(count: count, limit: limit) }
        guard count * minimumItemSize <= remaining else {
            throw .truncated(needed: count * minimumItemSize, available: remaining)
        }
        return count
    }

    public mutating func readIDs(limit: Int) throws(WireError) -> [ObjectID] {
        let count = try readCount(minimumItemSize: ObjectID.byteCount, limit: limit)
        var ids = [ObjectID]()
        ids.reserveCapacity(count)
        for _ in 0..<count { ids.append(try readID()) }
        return ids
    }

    /// The next `count` bytes as they are: a view of the payload, valid as long as it is.
    public mutating func readRaw(_ count: Int) throws(WireError) -> UnsafeRawBufferPointer {
        let at = try take(count)
        return UnsafeRawBufferPointer(rebasing: raw[at..<at + count])
    }

    public func expectEnd() throws(WireError) {
        guard remaining == 0 else { throw .trailingBytes(remaining) }
    }
}
