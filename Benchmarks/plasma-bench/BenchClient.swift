import PlasmaArrowClient
import PlasmaClient
import PlasmaCore

/// What the workloads ask of a client. Our native client and the Arrow-dialect client both answer it,
/// so one workload list (Workload.swift) measures our store natively and, with `--compare-arrow`, ours
/// and Arrow's through the Arrow dialect.
protocol BenchClient {
    /// Create `size` bytes, let `fill` write them in place, seal, release.
    func put(_ id: ObjectID, size: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) throws
    /// Create `source.count` bytes, copy `source` in as the client copies caller bytes, seal, release.
    func putCopying(_ id: ObjectID, from source: UnsafeRawBufferPointer) throws
    /// Create and seal `data` in one request (createAndSeal).
    func putInline(_ id: ObjectID, data: [UInt8]) throws
    /// Create and seal every id with the same `data` in one request (createAndSeal of a batch).
    func putBatch(_ ids: [ObjectID], data: [UInt8]) throws
    /// Get without waiting, hand the bytes to `body`, release; nil when the object is absent.
    func read<T>(_ id: ObjectID, _ body: (UnsafeRawBufferPointer) -> T) throws -> T?
    func remove(_ ids: [ObjectID]) throws
}

extension PlasmaClient: BenchClient {
    func put(_ id: ObjectID, size: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) throws {
        let object = try create(id, dataSize: size)
        object.withUnsafeMutableBytes { fill($0) }
        try object.seal().release()
    }

    /// The client's own write: `MutableObject.write`, which copies through the client's `parallelCopy`.
    func putCopying(_ id: ObjectID, from source: UnsafeRawBufferPointer) throws {
        let object = try create(id, dataSize: source.count)
        try object.write(source)
        try object.seal().release()
    }

    func putInline(_ id: ObjectID, data: [UInt8]) throws { try createAndSeal(id, data: data) }

    func putBatch(_ ids: [ObjectID], data: [UInt8]) throws {
        guard try createAndSeal(batch: ids.map { InlineObject(id: $0, data: data) }).allSatisfy({ $0 == .ok }) else {
            throw BenchError.batchRefused
        }
    }

    func remove(_ ids: [ObjectID]) throws { _ = try delete(ids) }

    func read<T>(_ id: ObjectID, _ body: (UnsafeRawBufferPointer) -> T) throws -> T? {
        guard let buffer = try get(id, timeout: .no) else { return nil }
        defer { try? buffer.release() }
        return buffer.withUnsafeBytes { body($0) }
    }
}

extension ArrowClient: BenchClient {
    func putInline(_ id: ObjectID, data: [UInt8]) throws { try createAndSeal(id, data: data) }
    func putBatch(_ ids: [ObjectID], data: [UInt8]) throws { try createAndSeal(batch: ids, data: data) }
    func remove(_ ids: [ObjectID]) throws { try delete(ids) }

    func put(_ id: ObjectID, size: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) throws {
        fill(try create(id, dataSize: size))
        try seal(id)
        try release(id)
    }

    /// The same copy as the native client's (`CopySource.parallelCopy`), into either store.
    func putCopying(_ id: ObjectID, from source: UnsafeRawBufferPointer) throws {
        let copy = CopySource.parallelCopy
        try put(id, size: source.count) { copy.copy(into: $0.baseAddress!, from: source.baseAddress!, count: source.count) }
    }

    func read<T>(_ id: ObjectID, _ body: (UnsafeRawBufferPointer) -> T) throws -> T? {
        guard let bytes = try get([id])[0] else { return nil }
        defer { try? release(id) }
        return body(bytes)
    }
}
