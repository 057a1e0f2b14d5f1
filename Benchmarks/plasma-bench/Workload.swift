import PlasmaClient
import PlasmaCore

/// One thing to measure. `run` does `iterations` operations and returns how many units of work were
/// done (operations or bytes); the runner times it.
struct Workload: Sendable {
    enum Unit: String, Sendable {
        case operations = "ops/s"
        case bytes = "GB/s"
        /// Objects per second, for requests that carry many objects.
        case objects = "objects/s"
    }

    let name: String
    let summary: String
    let unit: Unit
    /// Operations per repetition.
    let iterations: Int
    /// Work before timing starts (not timed); returns state the timed run uses.
    let prepare: @Sendable (PlasmaClient, Int) throws -> [ObjectID]
    let run: @Sendable (PlasmaClient, [ObjectID], Int) throws -> Int
}

/// 64 B objects, sequential, one client.
let smallObjectSize = 64
/// 64 MiB objects.
let largeObjectSize = 64 << 20
/// Objects per createAndSealBatch request in put-batch.
let batchSize = 1000

let workloads: [Workload] = [
    Workload(
        name: "put-small", summary: "create 64 B + write + seal + release",
        unit: .operations, iterations: 20_000,
        prepare: { _, _ in [] },
        run: { client, _, iterations in
            for _ in 0..<iterations {
                let object = try client.create(.random(), dataSize: smallObjectSize)
                object.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 7) }
                try object.seal().release()
            }
            return iterations
        }),
    Workload(
        name: "put-small-inline", summary: "createAndSeal 64 B (one round trip)",
        unit: .operations, iterations: 20_000,
        prepare: { _, _ in [] },
        run: { client, _, iterations in
            let data = [UInt8](repeating: 7, count: smallObjectSize)
            for _ in 0..<iterations { try client.createAndSeal(.random(), data: data) }
            return iterations
        }),
    Workload(
        name: "put-batch", summary: "createAndSeal batches of \(batchSize) × 64 B (one round trip per batch)",
        unit: .objects, iterations: 20,
        prepare: { _, _ in [] },
        run: { client, _, iterations in
            let data = [UInt8](repeating: 7, count: smallObjectSize)
            for _ in 0..<iterations {
                let objects = (0..<batchSize).map { _ in InlineObject(id: .random(), data: data) }
                guard try client.createAndSeal(batch: objects).allSatisfy({ $0 == .ok }) else { throw BenchError.batchRefused }
            }
            return iterations * batchSize
        }),
    Workload(
        name: "get-small", summary: "get + release of sealed 64 B objects",
        unit: .operations, iterations: 20_000,
        prepare: { client, iterations in
            let ids = (0..<1000).map { _ in ObjectID.random() }
            let data = [UInt8](repeating: 7, count: smallObjectSize)
            for id in ids { try client.createAndSeal(id, data: data) }
            return ids
        },
        run: { client, ids, iterations in
            for index in 0..<iterations {
                guard let buffer = try client.get(ids[index % ids.count], timeout: .no) else { throw BenchError.missing }
                try buffer.release()
            }
            return iterations
        }),
    Workload(
        name: "put-large", summary: "create 64 MiB + write every byte + seal + release + delete",
        unit: .bytes, iterations: 20,
        prepare: { _, _ in [] },
        run: { client, _, iterations in
            let source = UnsafeMutableRawBufferPointer.allocate(byteCount: largeObjectSize, alignment: 64)
            defer { source.deallocate() }
            source.initializeMemory(as: UInt8.self, repeating: 3)
            for _ in 0..<iterations {
                let id = ObjectID.random()
                let object = try client.create(id, dataSize: largeObjectSize)
                object.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(source)) }
                try object.seal().release()
                try client.delete([id])
            }
            return iterations * largeObjectSize
        }),
    Workload(
        name: "get-large", summary: "get 64 MiB + read every byte + release",
        unit: .bytes, iterations: 20,
        prepare: { client, _ in
            let id = ObjectID.random()
            let object = try client.create(id, dataSize: largeObjectSize)
            object.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 5) }
            try object.seal().release()
            return [id]
        },
        run: { client, ids, iterations in
            var sum: UInt64 = 0
            for _ in 0..<iterations {
                guard let buffer = try client.get(ids[0], timeout: .no) else { throw BenchError.missing }
                sum &+= buffer.withUnsafeBytes { readEveryByte($0) }
                try buffer.release()
            }
            guard sum == expectedSum(of: 5, iterations: iterations) else { throw BenchError.missing }
            return iterations * largeObjectSize
        }),
]

enum BenchError: Error, CustomStringConvertible {
    case missing
    case batchRefused
    case waiterFailed(String)
    case childFailed(String)
    var description: String {
        switch self {
        case .missing: "an object the benchmark sealed is missing (or its bytes differ)"
        case .batchRefused: "the store refused an object of a createAndSeal batch"
        case .childFailed(let what): what
        case .waiterFailed(let output): "the waiter process failed; it printed: \(output.prefix(500))"
        }
    }
}

/// What `readEveryByte` returns, summed over `iterations` reads, for a large object filled with `byte`
/// (checks that the bytes read are the bytes written, and keeps the reads observable).
func expectedSum(of byte: UInt8, iterations: Int) -> UInt64 {
    let word = UInt64(byte) &* 0x0101_0101_0101_0101
    return word &* UInt64(largeObjectSize / 8) &* UInt64(iterations)
}

/// Sums the buffer 8 bytes at a time so that every byte is loaded.
@inline(never)
func readEveryByte(_ buffer: UnsafeRawBufferPointer) -> UInt64 {
    var sum: UInt64 = 0
    let words = buffer.count / 8
    let base = buffer.baseAddress!
    for index in 0..<words { sum &+= base.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self) }
    return sum
}
