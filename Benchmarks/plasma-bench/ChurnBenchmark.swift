import Foundation
import PlasmaClient
import PlasmaCore
import PlasmaToolSupport

/// `churn`: create + write every byte + seal + release of objects of random sizes, log-uniform between
/// 64 B and 1 MiB (seeded), cycling through a working set of ids whose sizes add up to twice the store's
/// capacity, so that every create past the first pass has to evict. The warm-up is one whole pass over
/// the working set; each repetition then does --churn-operations creates. At the end the store's
/// allocator state is read from `stats`.
enum ChurnBenchmark {
    static let smallest = 64
    static let largest = 1 << 20

    struct Outcome {
        let capacity: Int
        let workingSetObjects: Int
        let workingSetBytes: Int
        let operations: Int
        /// ops/s per repetition, ascending.
        let rates: [Double]
        /// Bytes written per second, per repetition, ascending.
        let byteRates: [Double]
        /// Creates refused (out of memory even after evicting) during the timed repetitions.
        let refused: Int
        let statistics: StoreStatistics
    }

    static func run(client: PlasmaClient, operations: Int, repetitions: Int, seed: UInt64) throws -> Outcome {
        var generator = SplitMix64(seed: seed)
        var workingSet: [(id: ObjectID, size: Int)] = []
        var total = 0
        while total < 2 * client.capacity {
            let size = logUniform(&generator)
            workingSet.append((ObjectID.random(using: &generator), size))
            total += size
        }
        var cursor = 0
        _ = try pass(client, workingSet, &cursor, workingSet.count)  // warm-up: fills the store and starts evicting
        var (rates, byteRates, refused) = ([Double](), [Double](), 0)
        for _ in 0..<repetitions {
            let start = ContinuousClock.now
            let done = try pass(client, workingSet, &cursor, operations)
            let seconds = (ContinuousClock.now - start).inSeconds
            rates.append(Double(operations) / seconds)
            byteRates.append(Double(done.bytes) / seconds)
            refused += done.refused
        }
        let statistics = try client.statistics()
        for start in stride(from: 0, to: workingSet.count, by: 10_000) {  // leave a --socket store as we found it
            try client.delete(workingSet[start..<min(workingSet.count, start + 10_000)].map(\.id))
        }
        return Outcome(
            capacity: client.capacity, workingSetObjects: workingSet.count, workingSetBytes: total,
            operations: operations, rates: rates.sorted(), byteRates: byteRates.sorted(), refused: refused,
            statistics: statistics)
    }

    /// `count` creates from `cursor` on (wrapping): bytes written and creates refused.
    private static func pass(
        _ client: PlasmaClient, _ workingSet: [(id: ObjectID, size: Int)], _ cursor: inout Int, _ count: Int
    ) throws -> (bytes: Int, refused: Int) {
        var (bytes, refused) = (0, 0)
        for _ in 0..<count {
            let (id, size) = workingSet[cursor]
            cursor = (cursor + 1) % workingSet.count
            guard let object = try createUnlessFull(client, id, size) else {
                refused += 1
                continue
            }
            object.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 9) }
            try object.seal().release()
            bytes += size
        }
        return (bytes, refused)
    }

    /// nil when the store is full even after evicting (out of memory); other errors throw.
    private static func createUnlessFull(_ client: PlasmaClient, _ id: ObjectID, _ size: Int) throws -> MutableObject? {
        switch Swift.Result(catching: { () throws(PlasmaClientError) in try client.create(id, dataSize: size) }) {
        case .success(let object): return object
        case .failure(let error) where error.status == .outOfMemory: return nil
        case .failure(let error): throw error
        }
    }

    static func row(_ outcome: Outcome, seed: UInt64) -> Row {
        let median = outcome.rates[outcome.rates.count / 2]
        let byteMedian = outcome.byteRates[outcome.byteRates.count / 2]
        let stats = outcome.statistics
        let mib = { (bytes: Int) in String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
        return Row(
            name: "churn", figure: "\(Report.format(median)) ops/s",
            spread: "\(Report.format(outcome.rates.first!)) … \(Report.format(outcome.rates.last!))",
            what: "create+write+seal+release, 64 B..1 MiB log-uniform (seed \(seed)), working set "
                + "\(outcome.workingSetObjects) objects = \(mib(outcome.workingSetBytes)), 2× the \(mib(outcome.capacity)) store; "
                + String(format: "%.2f GB/s; ", byteMedian / 1e9)
                + "at the end: free \(mib(Int(stats.arenaSize - stats.arenaBytesAllocated))) of the arena, "
                + "fragmentation \(stats.fragmentationPermille)‰, largest free block \(mib(Int(stats.largestFreeBlock))), "
                + "\(stats.evictedObjects) objects evicted, \(outcome.refused) creates refused",
            json: [("unit", "\"ops/s\""), ("median", "\(median)"), ("min", "\(outcome.rates.first!)"),
                   ("max", "\(outcome.rates.last!)"), ("repetitions", "\(outcome.rates.count)"),
                   ("operations_per_repetition", "\(outcome.operations)"), ("bytes_per_second_median", "\(byteMedian)"),
                   ("capacity", "\(outcome.capacity)"), ("working_set_objects", "\(outcome.workingSetObjects)"),
                   ("working_set_bytes", "\(outcome.workingSetBytes)"), ("seed", "\(seed)"),
                   ("fragmentation_permille", "\(stats.fragmentationPermille)"),
                   ("largest_free_block", "\(stats.largestFreeBlock)"),
                   ("arena_free_bytes", "\(stats.arenaSize - stats.arenaBytesAllocated)"), ("evicted_objects", "\(stats.evictedObjects)"),
                   ("refused_creates", "\(outcome.refused)")])
    }

    /// A size between `smallest` and `largest` whose logarithm is uniform.
    static func logUniform(_ generator: inout SplitMix64) -> Int {
        let unit = Double(generator.next() >> 11) * 0x1p-53
        let low = log(Double(smallest)), high = log(Double(largest))
        return min(largest, Int(exp(low + unit * (high - low))))
    }
}

/// A small seeded generator (SplitMix64), so that a seed gives the same sizes and ids on every run.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
