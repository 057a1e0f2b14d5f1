/// A verifying flatbuffer reader over untrusted bytes.
///
/// Every uoffset, soffset, vtable, field, string and vector is checked against the buffer before it is
/// read, and anything that doesn't fit throws a `WireError` (never a trap, never a read out of bounds):
///
/// - the root uoffset (byte 0) and every uoffset must be nonzero and land inside the buffer;
/// - a table's vtable must lie inside the buffer, have an even size of at least 4, and the table
///   (its size from the vtable) must fit too; a present field must lie inside its table;
/// - a string's bytes and its NUL terminator must fit; a vector's `count * elementSize` bytes must fit
///   in what follows its count (checked before anything is allocated) and `count` must be within the
///   caller's item limit;
/// - nested tables count towards `maxDepth`.
///
/// Reads are unaligned, so misaligned (but in-bounds) data is accepted. All views (`FlatTable`,
/// `FlatVector`, `FlatStruct`) borrow the buffer and must not outlive it.
public struct FlatBufferReader {
    /// flatbuffers offsets are 32-bit; the C++ verifier caps buffers just below 2 GiB.
    public static let maxBufferSize = Int(Int32.max)
    /// Deeper than any Plasma message (root, vector of ObjectInfo, ObjectInfo).
    public static let defaultMaxDepth = 8

    public let buffer: UnsafeRawBufferPointer
    public let maxDepth: Int

    public init(_ buffer: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth) throws(WireError) {
        guard buffer.count <= Self.maxBufferSize else {
            throw .frameTooLarge(length: buffer.count, limit: Self.maxBufferSize)
        }
        guard buffer.count >= 4 else { throw .truncated(needed: 4, available: buffer.count) }
        self.buffer = buffer
        self.maxDepth = maxDepth
    }

    /// The root table, at the uoffset stored in the first 4 bytes.
    public func root() throws(WireError) -> FlatTable {
        try FlatTable(buffer, at: try Self.follow(buffer, at: 0, what: "root offset"), depth: 1, maxDepth: maxDepth)
    }

    /// The target of the uoffset stored at `position` (which the caller has bounds-checked). `what` is
    /// built only for an error: formatted for every field, it cost the store allocations per request.
    static func follow(
        _ buffer: UnsafeRawBufferPointer, at position: Int, what: @autoclosure () -> String
    ) throws(WireError) -> Int {
        let offset = Int(load(UInt32.self, buffer, position))
        guard offset != 0 else { throw .flatbufferMalformed("\(what()) at byte \(position) is 0") }
        let target = position + offset
        guard target < buffer.count else {
            throw .flatbufferMalformed("\(what()) at byte \(position) points to byte \(target), past the end (\(buffer.count) bytes)")
        }
        return target
    }

    static func load<T: FixedWidthInteger>(_: T.Type, _ buffer: UnsafeRawBufferPointer, _ position: Int) -> T {
        T(littleEndian: buffer.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    /// The bytes of the string at `position`, after checking its length and NUL terminator.
    static func string(_ buffer: UnsafeRawBufferPointer, at position: Int) throws(WireError) -> UnsafeRawBufferPointer {
        guard position + 4 <= buffer.count else { throw .flatbufferMalformed("string length at byte \(position) past the end") }
        let length = Int(load(UInt32.self, buffer, position))
        let end = position + 4 + length
        guard end < buffer.count else {
            throw .flatbufferMalformed("string of \(length) bytes at byte \(position) runs past the end (\(buffer.count) bytes)")
        }
        guard buffer[end] == 0 else { throw .flatbufferMalformed("string at byte \(position) lacks its NUL terminator") }
        return UnsafeRawBufferPointer(rebasing: buffer[(position + 4)..<end])
    }
}

extension WireError {
    /// A flatbuffer that breaks the format (as opposed to a well-formed one with a bad value).
    static func flatbufferMalformed(_ what: String) -> WireError { .invalidValue("malformed flatbuffer: \(what)") }
}

/// A verified table: its vtable and object lie inside the buffer.
public struct FlatTable {
    let buffer: UnsafeRawBufferPointer
    /// Where the table (its soffset) starts.
    public let position: Int
    let vtable: Int
    let vtableSize: Int
    let objectSize: Int
    let depth: Int
    let maxDepth: Int

    init(_ buffer: UnsafeRawBufferPointer, at position: Int, depth: Int, maxDepth: Int) throws(WireError) {
        guard depth <= maxDepth else { throw .flatbufferMalformed("tables nested deeper than \(maxDepth)") }
        guard position >= 0, position + 4 <= buffer.count else {
            throw .flatbufferMalformed("table at byte \(position) past the end (\(buffer.count) bytes)")
        }
        let vtable = position - Int(FlatBufferReader.load(Int32.self, buffer, position))
        guard vtable >= 0, vtable + 4 <= buffer.count else {
            throw .flatbufferMalformed("vtable of the table at byte \(position) is at byte \(vtable), outside the buffer")
        }
        let vtableSize = Int(FlatBufferReader.load(UInt16.self, buffer, vtable))
        guard vtableSize >= 4, vtableSize % 2 == 0, vtable + vtableSize <= buffer.count else {
            throw .flatbufferMalformed("vtable at byte \(vtable) has bad size \(vtableSize)")
        }
        let objectSize = Int(FlatBufferReader.load(UInt16.self, buffer, vtable + 2))
        guard objectSize >= 4, position + objectSize <= buffer.count else {
            throw .flatbufferMalformed("table at byte \(position) claims \(objectSize) bytes, past the end")
        }
        self.buffer = buffer
        self.position = position
        self.vtable = vtable
        self.vtableSize = vtableSize
        self.objectSize = objectSize
        self.depth = depth
        self.maxDepth = maxDepth
    }

    /// The position of field `id` holding `size` bytes, or nil when the field is absent.
    func field(_ id: Int, size: Int) throws(WireError) -> Int? {
        let slot = 4 + 2 * id
        guard slot + 2 <= vtableSize else { return nil }
        let offset = Int(FlatBufferReader.load(UInt16.self, buffer, vtable + slot))
        guard offset != 0 else { return nil }
        guard offset >= 4, offset + size <= objectSize else {
            throw .flatbufferMalformed("field \(id) at +\(offset) (\(size) bytes) lies outside its \(objectSize)-byte table")
        }
        return position + offset
    }

    public func has(_ id: Int) throws(WireError) -> Bool { try field(id, size: 0) != nil }

    /// A scalar field, or `defaultValue` when absent.
    public func scalar<T: FixedWidthInteger>(_ id: Int, default defaultValue: T = 0) throws(WireError) -> T {
        guard let at = try field(id, size: MemoryLayout<T>.size) else { return defaultValue }
        return FlatBufferReader.load(T.self, buffer, at)
    }

    /// A bool field (any nonzero byte is true, as in flatbuffers' generated code).
    public func bool(_ id: Int, default defaultValue: Bool = false) throws(WireError) -> Bool {
        try scalar(id, default: UInt8(defaultValue ? 1 : 0)) != 0
    }

    private func follow(_ id: Int) throws(WireError) -> Int? {
        guard let at = try field(id, size: 4) else { return nil }
        return try FlatBufferReader.follow(buffer, at: at, what: "offset of field \(id)")
    }

    /// A string field's bytes (borrowed), or nil when absent.
    public func stringBytes(_ id: Int) throws(WireError) -> UnsafeRawBufferPointer? {
        guard let target = try follow(id) else { return nil }
        return try FlatBufferReader.string(buffer, at: target)
    }

    public func bytes(_ id: Int) throws(WireError) -> [UInt8]? {
        try stringBytes(id).map { Array($0) }
    }

    public func string(_ id: Int) throws(WireError) -> String? {
        try stringBytes(id).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A table field, or nil when absent.
    public func table(_ id: Int) throws(WireError) -> FlatTable? {
        guard let target = try follow(id) else { return nil }
        return try FlatTable(buffer, at: target, depth: depth + 1, maxDepth: maxDepth)
    }

    /// A vector field whose elements are `elementSize` bytes each, or nil when absent. Throws
    /// `tooManyItems` past `limit` and a malformed error when the elements don't fit in the buffer.
    public func vector(_ id: Int, elementSize: Int, limit: Int) throws(WireError) -> FlatVector? {
        guard let target = try follow(id) else { return nil }
        guard target + 4 <= buffer.count else { throw .flatbufferMalformed("vector length at byte \(target) past the end") }
        let count = Int(FlatBufferReader.load(UInt32.self, buffer, target))
        guard count <= limit else { throw .tooManyItems(count: count, limit: limit) }
        let start = target + 4
        guard count * elementSize <= buffer.count - start else {
            throw .flatbufferMalformed(
                "vector of \(count) × \(elementSize) bytes at byte \(target) runs past the end (\(buffer.count) bytes)")
        }
        return FlatVector(
            buffer: buffer, start: start, count: count, elementSize: elementSize, depth: depth, maxDepth: maxDepth)
    }

    /// An inline struct field of `size` bytes, or nil when absent.
    public func structField(_ id: Int, size: Int) throws(WireError) -> FlatStruct? {
        guard let at = try field(id, size: size) else { return nil }
        return FlatStruct(buffer: buffer, position: at, size: size)
    }
}

/// A verified vector: all `count * elementSize` element bytes lie inside the buffer.
public struct FlatVector {
    let buffer: UnsafeRawBufferPointer
    let start: Int
    public let count: Int
    let elementSize: Int
    let depth: Int
    let maxDepth: Int

    private func position(_ index: Int) -> Int {
        precondition(index >= 0 && index < count, "vector index out of range")
        return start + index * elementSize
    }

    public func scalar<T: FixedWidthInteger>(at index: Int, as _: T.Type = T.self) -> T {
        precondition(MemoryLayout<T>.size <= elementSize, "element narrower than the scalar")
        return FlatBufferReader.load(T.self, buffer, position(index))
    }

    /// Element `index` of a vector of strings (borrowed bytes).
    public func stringBytes(at index: Int) throws(WireError) -> UnsafeRawBufferPointer {
        let target = try FlatBufferReader.follow(buffer, at: position(index), what: "vector element \(index)")
        return try FlatBufferReader.string(buffer, at: target)
    }

    /// Element `index` of a vector of tables.
    public func table(at index: Int) throws(WireError) -> FlatTable {
        let target = try FlatBufferReader.follow(buffer, at: position(index), what: "vector element \(index)")
        return try FlatTable(buffer, at: target, depth: depth + 1, maxDepth: maxDepth)
    }

    /// Element `index` of a vector of structs.
    public func structElement(at index: Int) -> FlatStruct {
        FlatStruct(buffer: buffer, position: position(index), size: elementSize)
    }
}

/// A verified inline struct; `scalar(at:)` reads at a byte offset inside it.
public struct FlatStruct {
    let buffer: UnsafeRawBufferPointer
    public let position: Int
    public let size: Int

    public func scalar<T: FixedWidthInteger>(at offset: Int, as _: T.Type = T.self) -> T {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= size, "read outside the struct")
        return FlatBufferReader.load(T.self, buffer, position + offset)
    }
}
