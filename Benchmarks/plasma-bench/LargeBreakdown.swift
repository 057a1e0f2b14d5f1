import Foundation
import Glibc
import PlasmaClient
import PlasmaCore

/// `large-breakdown` (alone, only when named): where a 64 MiB put's and get's time goes, each operation
/// right after one pass of its machine limit, so that load moving between the two cancels out (the rows
/// sample the limit once per repetition of 20 operations, which on a busy machine lets a short limit pass
/// and a long run catch different moments).
///
/// Per put: limit (copy 64 MiB from the same source into populated memfd pages), then create, copy into
/// the object, seal, release, delete, each timed, with this process's minor page faults. Per get: limit
/// (read every byte of those pages), then get, read every byte, release. Medians per step, and the
/// median over operations of (whole operation / its own limit pass) and (the copy or read alone / it).
enum LargeBreakdown {
    static let size = largeObjectSize

    struct Steps {
        var names: [String]
        var seconds: [[Double]]
        var faults: [Int] = []
        var wholeRatios: [Double] = []
        var movedRatios: [Double] = []

        init(_ names: [String]) {
            self.names = names
            seconds = names.map { _ in [] }
        }
    }

    static func run(client: PlasmaClient, operations: Int) throws -> [(what: String, steps: Steps)] {
        let limits = MachineLimits()
        let source = CopySource.buffer(size)
        // Warm-up: the client's mappings get their page-table entries for the block the store hands out
        // (a first touch is a fault per 4 KiB page written, per 64 KiB read).
        for _ in 0..<3 {
            let id = ObjectID.random()
            try client.put(id, size: size) { $0.copyMemory(from: source) }
            _ = try client.read(id) { readEveryByte($0) }
            try client.remove([id])
        }
        _ = try limits.sample(.copy(size))
        _ = try limits.sample(.read(size))

        var put = Steps(["create", "copy", "seal", "release", "delete"])
        var putInRow = Steps(put.names)
        for index in 0..<2 * operations {
            // Odd operations back to back, as the row runs them (the store still polling after the last
            // delete); even ones right after a limit pass.
            let paired = index % 2 == 0
            let limit = paired ? try limits.onePass(.copy(size))! : 0
            let faults = minorFaults()
            var stamps = [ContinuousClock.now]
            let id = ObjectID.random()
            let object = try client.create(id, dataSize: size)
            stamps.append(.now)
            object.withUnsafeMutableBytes { $0.copyMemory(from: source) }
            stamps.append(.now)
            let buffer = try object.seal()
            stamps.append(.now)
            try buffer.release()
            stamps.append(.now)
            try client.delete([id])
            stamps.append(.now)
            if paired {
                put.record(stamps, faults: minorFaults() - faults, limit: limit)
            } else {
                putInRow.record(stamps, faults: minorFaults() - faults, limit: nil)
            }
        }

        let id = ObjectID.random()
        try client.put(id, size: size) { _ = $0.initializeMemory(as: UInt8.self, repeating: 5) }
        defer { _ = try? client.delete([id]) }
        _ = try client.read(id) { readEveryByte($0) }
        var get = Steps(["get", "read", "release"])
        var getInRow = Steps(get.names)
        var sum: UInt64 = 0
        for index in 0..<2 * operations {
            let paired = index % 2 == 0
            let limit = paired ? try limits.onePass(.read(size))! : 0
            let faults = minorFaults()
            var stamps = [ContinuousClock.now]
            guard let buffer = try client.get(id, timeout: .no) else { throw BenchError.missing }
            stamps.append(.now)
            sum &+= buffer.withUnsafeBytes { readEveryByte($0) }
            stamps.append(.now)
            try buffer.release()
            stamps.append(.now)
            if paired {
                get.record(stamps, faults: minorFaults() - faults, limit: limit)
            } else {
                getInRow.record(stamps, faults: minorFaults() - faults, limit: nil)
            }
        }
        guard sum == expectedSum(of: 5, size: size, iterations: 2 * operations) else { throw BenchError.missing }
        return [("put 64 MiB", put), ("put 64 MiB back to back", putInRow), ("get 64 MiB", get),
                ("get 64 MiB back to back", getInRow)]
    }

    /// This process's minor page faults so far.
    static func minorFaults() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_minflt
    }

    static func report(_ steps: Steps, what: String) -> String {
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }
        let total = steps.seconds.map { $0.reduce(0, +) }.reduce(0, +)
        let parts = zip(steps.names, steps.seconds).map { name, seconds in
            String(format: "%@ %.0f / %.0f us (%.1f %%)", name, median(seconds) * 1e6, mean(seconds) * 1e6,
                   seconds.reduce(0, +) / total * 100)
        }
        let count = steps.seconds[0].count
        let rate = Double(size * count) / total / 1e9
        var lines = "\(what), \(count) operations: step median / mean (share of the time)\n  \(parts.joined(separator: ", "))\n"
        if steps.wholeRatios.isEmpty {
            lines += String(format: "  %.2f GB/s over the operations", rate)
        } else {
            lines += String(format: "  each right after one limit pass: whole operation / it %.3f, the %@ alone / it %.3f (medians)",
                            median(steps.wholeRatios), steps.names[1], median(steps.movedRatios))
        }
        return lines + "; minor page faults \(steps.faults.reduce(0, +))\n"
    }
}

extension LargeBreakdown.Steps {
    /// `stamps`: the start and the end of each step. The moved bytes' step is the second. `limit`: the
    /// pass just before, GB/s (nil: none).
    mutating func record(_ stamps: [ContinuousClock.Instant], faults: Int, limit: Double?) {
        for index in names.indices { seconds[index].append((stamps[index + 1] - stamps[index]).inSeconds) }
        self.faults.append(faults)
        guard let limit else { return }
        let whole = (stamps.last! - stamps.first!).inSeconds
        wholeRatios.append(Double(LargeBreakdown.size) / whole / 1e9 / limit)
        movedRatios.append(Double(LargeBreakdown.size) / seconds[1].last! / 1e9 / limit)
    }
}
