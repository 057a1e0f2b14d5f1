/// Builds one flatbuffer back to front, following the algorithm of the C++ `flatbuffers::FlatBufferBuilder`
/// (the one Arrow's Plasma uses), so that the same sequence of calls gives the same bytes:
///
/// - the buffer grows towards lower addresses; an `Offset` is a distance from the end of the buffer;
/// - a scalar is aligned to its own size, a string or vector to 4 (and to its element size) *before*
///   its contents, so that its u32 length ends up aligned;
/// - strings are `u32 length, bytes, NUL`; vectors are `u32 count, elements`;
/// - a table is `soffset to its vtable, fields`; its vtable (`u16 vtable size, u16 table size, u16 field
///   offsets`) goes right in front of it, or an identical earlier vtable is shared;
/// - a scalar equal to its default is left out, as the C++ builder does (`force_defaults` off);
/// - `finish` aligns the whole buffer to the largest alignment used and puts the root uoffset at byte 0
///   (no file identifier, no size prefix).
///
/// Misuse (a string started inside a table, two tables at once) is a programming error and traps.
public struct FlatBufferBuilder {
    /// A finished string, vector or table.
    public struct Offset: Equatable, Sendable {
        /// Distance from the end of the buffer to the object's first byte.
        fileprivate let fromEnd: Int
    }

    /// `storage[head...]` holds the bytes built so far; free space is in front of them.
    private var storage: [UInt8]
    private var head: Int
    private var minAlignment = 1
    /// Where the open table started (as a size), nil outside a table.
    private var tableStart: Int?
    /// The fields of the open table: their vtable slot (4 + 2 * field id) and position (as a size).
    private var fields: [(slot: Int, at: Int)] = []
    /// Every vtable written so far (as a size), oldest first, for sharing identical ones.
    private var vtables: [Int] = []
    /// Kept between vectors of strings (`createStringVector`), so that each needs no array of its own.
    private var scratchOffsets: [Offset] = []

    public init(capacity: Int = 256) {
        storage = [UInt8](repeating: 0, count: max(capacity, 16))
        head = storage.count
    }

    /// Bytes written so far.
    public var size: Int { storage.count - head }

    /// Bytes the builder's storage holds, written or not.
    public var capacity: Int { storage.count }

    /// Empties the builder for the next buffer, keeping its storage: a store that encodes one reply per
    /// request reuses one builder instead of allocating its arrays every time.
    public mutating func reset() {
        head = storage.count
        minAlignment = 1
        tableStart = nil
        fields.removeAll(keepingCapacity: true)
        vtables.removeAll(keepingCapacity: true)
    }

    // MARK: Raw space

    private mutating func reserve(_ count: Int) {
        guard head < count else { return }
        let used = size
        var capacity = max(storage.count * 2, 64)
        while capacity - used < count { capacity *= 2 }
        var grown = [UInt8](repeating: 0, count: capacity)
        grown[(capacity - used)...] = storage[head...]
        storage = grown
        head = capacity - used
    }

    private mutating func pad(_ count: Int) {
        guard count > 0 else { return }
        reserve(count)
        head -= count
        storage.replaceSubrange(head..<head + count, with: repeatElement(0, count: count))
    }

    private mutating func pushBytes(_ bytes: some Collection<UInt8>) {
        let count = bytes.count
        reserve(count)
        head -= count
        storage.replaceSubrange(head..<head + count, with: bytes)  // same length: an in-place copy
    }

    private mutating func write<T: FixedWidthInteger>(_ value: T, atSize position: Int) {
        let index = storage.count - position
        storage.withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: index, as: T.self) }
    }

    private func read<T: FixedWidthInteger>(_: T.Type, atIndex index: Int) -> T {
        storage.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: index, as: T.self)) }
    }

    /// Pads so that the next `alignment`-sized value ends aligned (C++ `Align`).
    private mutating func align(_ alignment: Int) {
        minAlignment = max(minAlignment, alignment)
        pad(-size & (alignment - 1))
    }

    /// Pads so that after `length` more bytes the buffer is aligned to `alignment` (C++ `PreAlign`).
    private mutating func preAlign(length: Int, alignment: Int) {
        minAlignment = max(minAlignment, alignment)
        pad(-(size + length) & (alignment - 1))
    }

    @discardableResult
    private mutating func push<T: FixedWidthInteger>(_ value: T) -> Int {
        align(MemoryLayout<T>.size)
        reserve(MemoryLayout<T>.size)
        head -= MemoryLayout<T>.size
        write(value, atSize: size)
        return size
    }

    /// The uoffset from the next 4-byte slot to `offset` (C++ `ReferTo`).
    private mutating func refer(to offset: Offset) -> UInt32 {
        align(4)
        precondition(offset.fromEnd <= size, "offset to an object not in this buffer")
        return UInt32(size - offset.fromEnd + 4)
    }

    // MARK: Strings and vectors (outside tables)

    /// A string or byte string: u32 length, the bytes, a NUL.
    public mutating func createString(_ bytes: some Collection<UInt8>) -> Offset {
        precondition(tableStart == nil, "strings can't be built inside a table")
        preAlign(length: bytes.count + 1, alignment: 4)
        pad(1)
        pushBytes(bytes)
        push(UInt32(bytes.count))
        return Offset(fromEnd: size)
    }

    public mutating func createString(_ text: String) -> Offset { createString(Array(text.utf8)) }

    /// A string of `length` bytes written by `fill`: the same bytes as `createString`, without an array.
    public mutating func createString(length: Int, fill: (UnsafeMutableRawPointer) -> Void) -> Offset {
        precondition(tableStart == nil, "strings can't be built inside a table")
        preAlign(length: length + 1, alignment: 4)
        pad(1)
        reserve(length)
        head -= length
        storage.withUnsafeMutableBytes { fill($0.baseAddress! + head) }
        push(UInt32(length))
        return Offset(fromEnd: size)
    }

    /// `count` strings of `length` bytes each, the i-th filled by `fill(i, destination)`: the same bytes
    /// as `count` calls of `createString` in index order, in one pass without an array per string (a
    /// GetReply or DeleteReply may list hundreds of thousands of ids).
    public mutating func createStrings(
        count: Int, length: Int, fill: (Int, UnsafeMutableRawPointer) -> Void
    ) -> [Offset] {
        var offsets = [Offset]()
        appendStrings(count: count, length: length, fill: fill, to: &offsets)
        return offsets
    }

    /// `createStrings` followed by `createVector(offsets:)` of them, with the offsets in storage the
    /// builder keeps (no array per vector: the store encodes a GetReply per request).
    public mutating func createStringVector(
        count: Int, length: Int, fill: (Int, UnsafeMutableRawPointer) -> Void
    ) -> Offset {
        var offsets = scratchOffsets
        scratchOffsets = []
        offsets.removeAll(keepingCapacity: true)
        appendStrings(count: count, length: length, fill: fill, to: &offsets)
        let vector = createVector(offsets: offsets)
        scratchOffsets = offsets
        return vector
    }

    private mutating func appendStrings(
        count: Int, length: Int, fill: (Int, UnsafeMutableRawPointer) -> Void, to offsets: inout [Offset]
    ) {
        precondition(tableStart == nil, "strings can't be built inside a table")
        guard count > 0 else { return }
        reserve(count * (length + 8))  // each: up to 3 padding bytes, the bytes, NUL, u32 length
        minAlignment = max(minAlignment, 4)
        offsets.reserveCapacity(offsets.count + count)
        var head = self.head
        let end = storage.count
        storage.withUnsafeMutableBytes { raw in
            for index in 0..<count {
                // createString: pad so that the u32 length ends up aligned, NUL, bytes, length.
                let padding = -(end - head + length + 1) & 3
                head -= padding + 1
                for byte in 0...padding { raw[head + byte] = 0 }
                head -= length
                fill(index, raw.baseAddress! + head)
                head -= 4
                raw.storeBytes(of: UInt32(length).littleEndian, toByteOffset: head, as: UInt32.self)
                offsets.append(Offset(fromEnd: end - head))
            }
        }
        self.head = head
    }

    private mutating func startVector(count: Int, elementSize: Int, alignment: Int) {
        precondition(tableStart == nil, "vectors can't be built inside a table")
        preAlign(length: count * elementSize, alignment: 4)
        preAlign(length: count * elementSize, alignment: alignment)
    }

    private mutating func endVector(count: Int) -> Offset {
        push(UInt32(count))
        return Offset(fromEnd: size)
    }

    /// A vector of strings or tables.
    public mutating func createVector(offsets: [Offset]) -> Offset {
        startVector(count: offsets.count, elementSize: 4, alignment: 4)
        for offset in offsets.reversed() { push(refer(to: offset)) }
        return endVector(count: offsets.count)
    }

    /// A vector of little-endian scalars.
    public mutating func createVector<T: FixedWidthInteger>(scalars: [T]) -> Offset {
        let width = MemoryLayout<T>.size
        startVector(count: scalars.count, elementSize: width, alignment: width)
        for value in scalars.reversed() { push(value) }
        return endVector(count: scalars.count)
    }

    /// A vector of `count` structs of `byteCount` bytes each, the i-th written by `fill(i, its bytes)`
    /// (every byte, padding included): the same bytes as `createVector(structBytes:count:alignment:)`
    /// without the array.
    public mutating func createStructVector(
        count: Int, byteCount: Int, alignment: Int, fill: (Int, UnsafeMutableRawBufferPointer) -> Void
    ) -> Offset {
        let total = count * byteCount
        startVector(count: total / alignment, elementSize: alignment, alignment: alignment)
        reserve(total)
        head -= total
        let start = head
        storage.withUnsafeMutableBytes { raw in
            for index in 0..<count {
                fill(index, UnsafeMutableRawBufferPointer(rebasing: raw[start + index * byteCount..<start + (index + 1) * byteCount]))
            }
        }
        return endVector(count: count)
    }

    /// A vector of structs given as their concatenated bytes (`count * structSize` of them).
    public mutating func createVector(structBytes bytes: [UInt8], count: Int, alignment: Int) -> Offset {
        precondition(count == 0 ? bytes.isEmpty : bytes.count % count == 0, "struct bytes don't divide evenly")
        startVector(count: bytes.count / alignment, elementSize: alignment, alignment: alignment)
        pushBytes(bytes)
        return endVector(count: count)
    }

    // MARK: Tables

    public mutating func startTable() {
        precondition(tableStart == nil, "tables can't nest while being built")
        tableStart = size
        fields.removeAll(keepingCapacity: true)
    }

    private mutating func track(field: Int, at position: Int) {
        fields.append((slot: 4 + 2 * field, at: position))
    }

    /// A scalar field; left out when equal to `defaultValue`.
    public mutating func add<T: FixedWidthInteger>(field: Int, _ value: T, default defaultValue: T = 0) {
        precondition(tableStart != nil, "field outside a table")
        guard value != defaultValue else { return }
        track(field: field, at: push(value))
    }

    /// A bool field (one byte); left out when equal to `defaultValue`.
    public mutating func add(field: Int, _ flag: Bool, default defaultValue: Bool = false) {
        add(field: field, UInt8(flag ? 1 : 0), default: defaultValue ? 1 : 0)
    }

    /// A string, vector or table field; nothing when `offset` is nil.
    public mutating func add(field: Int, _ offset: Offset?) {
        precondition(tableStart != nil, "field outside a table")
        guard let offset else { return }
        track(field: field, at: push(refer(to: offset)))
    }

    /// A struct field stored inline (always written: structs have no default).
    public mutating func addStruct(field: Int, bytes: [UInt8], alignment: Int) {
        precondition(tableStart != nil, "field outside a table")
        align(alignment)
        pushBytes(bytes)
        track(field: field, at: size)
    }

    /// A struct field of `byteCount` bytes written by `fill` (which must write every byte, padding
    /// included): the same bytes as `addStruct(field:bytes:alignment:)`, without an array.
    public mutating func addStruct(
        field: Int, byteCount: Int, alignment: Int, fill: (UnsafeMutableRawBufferPointer) -> Void
    ) {
        precondition(tableStart != nil, "field outside a table")
        align(alignment)
        reserve(byteCount)
        head -= byteCount
        storage.withUnsafeMutableBytes { fill(UnsafeMutableRawBufferPointer(rebasing: $0[head..<head + byteCount])) }
        track(field: field, at: size)
    }

    public mutating func endTable() -> Offset {
        guard let start = tableStart else { preconditionFailure("endTable without startTable") }
        let tableAt = push(Int32(0))  // soffset to the vtable, patched below
        var lastSlot = 0
        for field in fields { lastSlot = max(lastSlot, field.slot) }  // no array per table
        let vtableSize = max(lastSlot + 2, 4)
        pad(vtableSize)
        let tableSize = tableAt - start
        precondition(tableSize < 0x1_0000, "table too large for a vtable")
        write(UInt16(vtableSize), atSize: size)
        write(UInt16(tableSize), atSize: size - 2)
        for field in fields { write(UInt16(tableAt - field.at), atSize: size - field.slot) }

        var vtableAt = size
        for earlier in vtables {
            let index = storage.count - earlier
            guard read(UInt16.self, atIndex: index) == vtableSize,
                storage[index..<index + vtableSize].elementsEqual(storage[head..<head + vtableSize])
            else { continue }
            vtableAt = earlier
            head += size - tableAt  // drop the new copy
            break
        }
        if vtableAt == size { vtables.append(vtableAt) }
        write(Int32(vtableAt - tableAt), atSize: tableAt)
        tableStart = nil
        return Offset(fromEnd: tableAt)
    }

    // MARK: Finish

    /// Writes the root uoffset and returns the finished buffer.
    public mutating func finish(root: Offset) -> [UInt8] {
        writeRoot(root)
        vtables.removeAll()
        return Array(storage[head...])
    }

    /// Writes the root uoffset and appends the finished buffer to `buffer` (after `header(size)`, given
    /// the finished size: a frame header goes in front without copying the payload twice). Call
    /// `reset()` before building the next one.
    public mutating func finish(root: Offset, appendingTo buffer: inout [UInt8], header: (Int, inout [UInt8]) -> Void) {
        writeRoot(root)
        header(size, &buffer)
        storage.withUnsafeBytes { buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[head...])) }
    }

    private mutating func writeRoot(_ root: Offset) {
        precondition(tableStart == nil, "finish inside a table")
        preAlign(length: 4, alignment: minAlignment)
        push(refer(to: root))
    }
}
