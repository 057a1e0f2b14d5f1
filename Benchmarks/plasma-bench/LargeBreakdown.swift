import Foundation
import Glibc
import PlasmaClient
import PlasmaCore

/// `large-breakdown` (alone, only when named): where a 64 MiB put's and get's time goes.
///
/// Some operations run right after one pass of their machine limit, so that load moving between the two
/// cancels out (the rows sample the limit once per repetition of 20 operations, which on a busy machine
/// lets a short limit pass and a long run catch different moments): the median over them of (whole
/// operation / its own limit pass) and of (the copy or read alone / it). The others run back to back in
/// blocks, as the rows do, alternating between two ways of giving the reference back: `release()`, which
/// waits for the store's reply, and dropping the buffer, whose release goes out without waiting.
///
/// First, puts each through a new connection: what a process that puts one large object pays for its
/// fresh mapping of the arena.
///
/// Put: create, copy 64 MiB from the same source as the limit, seal, release, delete. Get: get, read
/// every byte, release. Each step is timed (median, mean, share of the time), with this process's minor
/// page faults.
enum LargeBreakdown {
    static let size = largeObjectSize
    /// Operations per block of each release style between two limit passes.
    static let blocks = 4

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

    static func run(client: PlasmaClient, socket: String, operations: Int) throws -> [(what: String, steps: Steps)] {
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

        // Every other operation right after a limit pass; between them, blocks of operations back to
        // back as the rows run them, alternating between releasing with `release()` (which waits for
        // the store's reply) and dropping the buffer (its release goes out without waiting).
        var put = Steps(["create", "copy", "seal", "release", "delete"])
        var putInRow = [Steps(put.names), Steps(put.names)]
        for index in 0..<operations * (1 + blocks * 2) {
            let limit = index % (1 + blocks * 2) == 0 ? try limits.onePass(.copy(size))! : nil
            let posted = (index % (1 + blocks * 2)) > blocks
            let faults = minorFaults()
            let stamps = try timedPut(client, from: source, posted: posted)
            if limit != nil {
                put.record(stamps, faults: minorFaults() - faults, limit: limit)
            } else {
                putInRow[posted ? 1 : 0].record(stamps, faults: minorFaults() - faults, limit: nil)
            }
        }

        let id = ObjectID.random()
        try client.put(id, size: size) { _ = $0.initializeMemory(as: UInt8.self, repeating: 5) }
        defer { _ = try? client.delete([id]) }
        _ = try client.read(id) { readEveryByte($0) }
        var get = Steps(["get", "read", "release"])
        var getInRow = [Steps(get.names), Steps(get.names)]
        var sum: UInt64 = 0
        for index in 0..<operations * (1 + blocks * 2) {
            let limit = index % (1 + blocks * 2) == 0 ? try limits.onePass(.read(size))! : nil
            let posted = (index % (1 + blocks * 2)) > blocks
            let faults = minorFaults()
            var stamps = [ContinuousClock.now]
            do {
                guard let buffer = try client.get(id, timeout: .no) else { throw BenchError.missing }
                stamps.append(.now)
                sum &+= buffer.withUnsafeBytes { readEveryByte($0) }
                stamps.append(.now)
                if !posted { try buffer.release() }
            }
            stamps.append(.now)
            if limit != nil {
                get.record(stamps, faults: minorFaults() - faults, limit: limit)
            } else {
                getInRow[posted ? 1 : 0].record(stamps, faults: minorFaults() - faults, limit: nil)
            }
        }
        guard sum == expectedSum(of: 5, size: size, iterations: operations * (1 + blocks * 2)) else {
            throw BenchError.missing
        }
        // A new connection per put: a fresh mapping of the arena, whose page-table entries the first
        // writes to the block must fill in (the connect itself is not counted).
        var fresh = Steps(["create", "copy", "seal", "release", "delete"])
        for _ in 0..<operations {
            let newClient = try PlasmaClient(socketPath: socket)
            defer { newClient.close() }
            let faults = minorFaults()
            let stamps = try timedPut(newClient, from: source, posted: false)
            fresh.record(stamps, faults: minorFaults() - faults, limit: nil)
        }
        return [("put 64 MiB, the first through a new connection", fresh),
                ("put 64 MiB right after a limit pass", put),
                ("put 64 MiB back to back, release() waiting for its reply", putInRow[0]),
                ("put 64 MiB back to back, the buffer dropped (release posted)", putInRow[1]),
                ("get 64 MiB right after a limit pass", get),
                ("get 64 MiB back to back, release() waiting for its reply", getInRow[0]),
                ("get 64 MiB back to back, the buffer dropped (release posted)", getInRow[1])]
    }

    /// One put, stamped at its start and after each step: create, copy from `source`, seal, release
    /// (`release()`, or with `posted` the buffer dropped: its release goes out without waiting), delete.
    static func timedPut(
        _ client: PlasmaClient, from source: UnsafeRawBufferPointer, posted: Bool
    ) throws -> [ContinuousClock.Instant] {
        var stamps = [ContinuousClock.now]
        let id = ObjectID.random()
        let object = try client.create(id, dataSize: size)
        stamps.append(.now)
        object.withUnsafeMutableBytes { $0.copyMemory(from: source) }
        stamps.append(.now)
        do {
            let buffer = try object.seal()
            stamps.append(.now)
            if !posted { try buffer.release() }
        }
        stamps.append(.now)
        try client.delete([id])
        stamps.append(.now)
        return stamps
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
            let outside = (total - steps.seconds[1].reduce(0, +)) / Double(count)
            lines += String(format: "  %.2f GB/s over the operations; outside the %@: %.0f us per operation", rate,
                            steps.names[1], outside * 1e6)
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
