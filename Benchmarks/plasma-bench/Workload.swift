import PlasmaClient
import PlasmaCore

/// One thing to measure, through any `BenchClient`. `run` does `iterations` operations and returns how
/// many units of work were done (operations or bytes); the runner times it.
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
    /// The machine limit the figure is set against (`MachineLimits`), if any.
    var limit: LimitKind? = nil
    /// Whether the row is also set against the N-thread copy limit (put rows, whose copy is the
    /// client's `ParallelCopy`): `limit` stays one thread's memmove, the definition.
    var alsoAgainstParallelCopy = false
    /// The Arrow requests one operation makes, for the workloads `--compare-arrow` runs in that dialect
    /// too; nil for the rest.
    var arrowRequests: String? = nil
    /// Work before timing starts (not timed); returns state the timed run uses.
    let prepare: @Sendable (any BenchClient, Int) throws -> [ObjectID]
    let run: @Sendable (any BenchClient, [ObjectID], Int) throws -> Int
}

extension Workload {
    /// The N-thread copy limit a put row is also set against (nil for other rows, or on one core).
    var parallelLimit: LimitKind? {
        guard alsoAgainstParallelCopy, case .copy(let size) = limit, let threads = CopySource.parallelLimitThreads else { return nil }
        return .parallelCopy(size, threads: threads)
    }
}

/// 64 B objects, sequential, one client.
let smallObjectSize = 64
/// 64 MiB objects.
let largeObjectSize = 64 << 20
/// 1 GiB objects (put-large-1g, get-large-1g).
let hugeObjectSize = 1 << 30
/// Objects per createAndSealBatch request in put-batch.
let batchSize = 1000

let workloads: [Workload] = [
    Workload(
        name: "put-small", summary: "create 64 B + write + seal + release",
        unit: .operations, iterations: 20_000, limit: .roundTripRate, arrowRequests: "Create 64 B + write + Seal + Release",
        prepare: { _, _ in [] },
        run: { client, _, iterations in
            for _ in 0..<iterations {
                try client.put(.random(), size: smallObjectSize) { _ = $0.initializeMemory(as: UInt8.self, repeating: 7) }
            }
            return iterations
        }),
    Workload(
        name: "put-small-inline", summary: "createAndSeal 64 B (one round trip)",
        unit: .operations, iterations: 20_000, limit: .roundTripRate, arrowRequests: "CreateAndSeal 64 B (8-byte digest)",
        prepare: { _, _ in [] },
        run: { client, _, iterations in
            let data = [UInt8](repeating: 7, count: smallObjectSize)
            for _ in 0..<iterations { try client.putInline(.random(), data: data) }
            return iterations
        }),
    Workload(
        name: "put-batch", summary: "createAndSeal batches of \(batchSize) × 64 B (one round trip per batch)",
        unit: .objects, iterations: 20, arrowRequests: "CreateAndSealBatch of \(batchSize) × 64 B",
        prepare: { _, _ in [] },
        run: { client, _, iterations in
            let data = [UInt8](repeating: 7, count: smallObjectSize)
            for _ in 0..<iterations { try client.putBatch((0..<batchSize).map { _ in .random() }, data: data) }
            return iterations * batchSize
        }),
    Workload(
        name: "get-small", summary: "get + release of sealed 64 B objects",
        unit: .operations, iterations: 20_000, limit: .roundTripRate, arrowRequests: "Get (timeout 0) + Release of sealed 64 B objects",
        prepare: { client, _ in
            let ids = (0..<1000).map { _ in ObjectID.random() }
            let data = [UInt8](repeating: 7, count: smallObjectSize)
            for id in ids { try client.putInline(id, data: data) }
            return ids
        },
        run: { client, ids, iterations in
            for index in 0..<iterations {
                guard try client.read(ids[index % ids.count], { _ in () }) != nil else { throw BenchError.missing }
            }
            return iterations
        }),
    putLarge(name: "put-large", size: largeObjectSize, iterations: 20,
             arrowRequests: "Create 64 MiB + write every byte + Seal + Release + Delete"),
    getLarge(name: "get-large", size: largeObjectSize, iterations: 20, arrowRequests: "Get 64 MiB + read every byte + Release"),
    putLarge(name: "put-large-1g", size: hugeObjectSize, iterations: 2),
    getLarge(name: "get-large-1g", size: hugeObjectSize, iterations: 2),
]

/// create `size` + copy every byte in (the client's write: `ParallelCopy`, `--copy-threads`) + seal +
/// release + delete: set against copying into populated shared memory (`MachineLimits`) from the same
/// source buffer, by one thread's `copyMemory` and by the same `ParallelCopy` on N threads.
func putLarge(name: String, size: Int, iterations: Int, arrowRequests: String? = nil) -> Workload {
    Workload(
        name: name, summary: "create \(MachineLimits.sizeName(size)) + write every byte (the client's write) + seal + release + delete",
        unit: .bytes, iterations: iterations, limit: .copy(size), alsoAgainstParallelCopy: true, arrowRequests: arrowRequests,
        prepare: { _, _ in
            _ = CopySource.buffer(size)
            return []
        },
        run: { client, _, iterations in
            let source = CopySource.buffer(size)
            for _ in 0..<iterations {
                let id = ObjectID.random()
                try client.putCopying(id, from: source)
                try client.remove([id])
            }
            return iterations * size
        })
}

/// get `size` + read every byte + release: set against reading populated shared memory.
func getLarge(name: String, size: Int, iterations: Int, arrowRequests: String? = nil) -> Workload {
    Workload(
        name: name, summary: "get \(MachineLimits.sizeName(size)) + read every byte + release",
        unit: .bytes, iterations: iterations, limit: .read(size), arrowRequests: arrowRequests,
        prepare: { client, _ in
            let id = ObjectID.random()
            try client.put(id, size: size) { _ = $0.initializeMemory(as: UInt8.self, repeating: 5) }
            return [id]
        },
        run: { client, ids, iterations in
            var sum: UInt64 = 0
            for _ in 0..<iterations {
                guard let read = try client.read(ids[0], { readEveryByte($0) }) else { throw BenchError.missing }
                sum &+= read
            }
            guard sum == expectedSum(of: 5, size: size, iterations: iterations) else { throw BenchError.missing }
            return iterations * size
        })
}

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

/// What `readEveryByte` returns, summed over `iterations` reads, for an object of `size` filled with `byte`
/// (checks that the bytes read are the bytes written, and keeps the reads observable).
func expectedSum(of byte: UInt8, size: Int = largeObjectSize, iterations: Int) -> UInt64 {
    let word = UInt64(byte) &* 0x0101_0101_0101_0101
    return word &* UInt64(size / 8) &* UInt64(iterations)
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
