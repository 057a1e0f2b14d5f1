import Foundation
import Glibc
import PlasmaClient
import PlasmaCore
import PlasmaToolSupport

/// `startup`: how soon a freshly launched store serves, and how fast in its first second, while its
/// arena is still being populated in the background (issue #14), against the same workload once the
/// arena is populated.
///
/// Per `--startup-memory` size, a store of its own: launched, then connect attempts 1 ms apart until
/// one succeeds, then create + seal + get of a 64 B object; the figure is launch → that get returning.
/// Then one second of puts of 1 MiB objects from that moment (create, write every byte, seal,
/// release): creates/s and GB/s. Then, if the arena fits in half the memory available (populating it
/// takes that much; it is skipped on a machine that can't spare it rather than push others out), the
/// same second once `arena_populated_bytes` reaches the arena's size: the steady rate. Each phase's
/// objects are deleted before the next.
enum StartupBenchmark {
    static let objectSize = 1 << 20

    struct Phase {
        let creates: Int
        let seconds: Double
        var createsPerSecond: Double { Double(creates) / seconds }
        var gigabytesPerSecond: Double { Double(creates * StartupBenchmark.objectSize) / seconds / 1e9 }
    }

    struct Outcome {
        let memory: String
        let arenaSize: Int64
        let connected: Double  // seconds from launch
        let firstAnswer: Double  // seconds from launch to the first get returning
        let firstSecond: Phase
        let populatedAfterFirstSecond: Int64
        /// nil when skipped: see `steadySkipped`.
        let steady: Phase?
        let steadySkipped: String?
        let populationSeconds: Double?
    }

    static func run(memory: String) throws -> Outcome {
        let launched = ContinuousClock.now
        let store = try LaunchedStore(memory: memory, maxClients: 64, tag: "startup")
        defer { store.stop() }
        func since(_ instant: ContinuousClock.Instant) -> Double { (ContinuousClock.now - instant).inSeconds }

        var connection: PlasmaClient?
        while connection == nil {
            connection = try? PlasmaClient(socketPath: store.socketPath)
            if connection == nil {
                guard store.isRunning else { throw BenchError.childFailed("the store of \(memory) exited at start") }
                guard since(launched) < 120 else { throw BenchError.childFailed("no connection to the store of \(memory) within 120 s") }
                usleep(1000)
            }
        }
        let client = connection!
        let connected = since(launched)
        let probe = ObjectID.random()
        try client.createAndSeal(probe, data: [UInt8](repeating: 7, count: smallObjectSize))
        guard let buffer = try client.get(probe) else { throw BenchError.missing }
        let firstAnswer = since(launched)
        try buffer.release()
        try client.delete([probe])

        let firstSecond = try putForOneSecond(client)
        let after = try client.statistics()
        try client.delete(firstSecond.ids)

        let available = MemoryInfo.availableBytes()
        var steady: Phase?
        var skipped: String?
        var populationSeconds: Double?
        if let available, Int(after.arenaSize) <= available / 2 {
            let waiting = ContinuousClock.now
            while try client.statistics().arenaPopulatedBytes < after.arenaSize {
                guard since(waiting) < 600 else { throw BenchError.childFailed("the arena of \(memory) was not populated within 600 s") }
                usleep(20_000)
            }
            populationSeconds = since(launched)
            let phase = try putForOneSecond(client)
            try client.delete(phase.ids)
            steady = phase.phase
        } else {
            skipped = "steady skipped: the arena (\(ByteCount.format(Int(after.arenaSize)))) is more than half the memory available (\(available.map { ByteCount.format($0) } ?? "unknown"))"
        }
        client.close()
        return Outcome(
            memory: memory, arenaSize: after.arenaSize, connected: connected, firstAnswer: firstAnswer,
            firstSecond: firstSecond.phase, populatedAfterFirstSecond: after.arenaPopulatedBytes,
            steady: steady, steadySkipped: skipped, populationSeconds: populationSeconds)
    }

    /// Puts 1 MiB objects for one second; what was put, to delete afterwards.
    private static func putForOneSecond(_ client: PlasmaClient) throws -> (phase: Phase, ids: [ObjectID]) {
        var ids: [ObjectID] = []
        let start = ContinuousClock.now
        var elapsed = 0.0
        while elapsed < 1 {
            let id = ObjectID.random()
            let object = try client.create(id, dataSize: objectSize)
            object.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 7) }
            try object.seal().release()
            ids.append(id)
            elapsed = (ContinuousClock.now - start).inSeconds
        }
        return (Phase(creates: ids.count, seconds: elapsed), ids)
    }

    static func row(_ outcome: Outcome) -> Row {
        let first = outcome.firstSecond
        let steadyText = outcome.steady.map {
            String(format: "steady %.0f creates/s, %.2f GB/s (arena populated %.1f s after launch)",
                   $0.createsPerSecond, $0.gigabytesPerSecond, outcome.populationSeconds ?? 0)
        } ?? (outcome.steadySkipped ?? "")
        var json: [(String, String)] = [
            ("unit", "\"ms\""), ("memory", "\"\(outcome.memory)\""), ("arena_size", "\(outcome.arenaSize)"),
            ("connected_ms", "\(outcome.connected * 1000)"), ("first_answer_ms", "\(outcome.firstAnswer * 1000)"),
            ("first_second_creates_per_s", "\(first.createsPerSecond)"), ("first_second_gb_per_s", "\(first.gigabytesPerSecond)"),
            ("populated_after_first_second", "\(outcome.populatedAfterFirstSecond)"), ("object_bytes", "\(objectSize)"),
        ]
        if let steady = outcome.steady {
            json += [("steady_creates_per_s", "\(steady.createsPerSecond)"), ("steady_gb_per_s", "\(steady.gigabytesPerSecond)"),
                     ("populated_after_s", "\(outcome.populationSeconds ?? 0)")]
        }
        return Row(
            name: "startup \(outcome.memory)",
            figure: String(format: "%.1f ms", outcome.firstAnswer * 1000),
            spread: String(format: "connect %.1f ms", outcome.connected * 1000),
            what: String(format: "launch → first create+seal+get; first second: %.0f creates/s, %.2f GB/s of 1 MiB puts",
                         first.createsPerSecond, first.gigabytesPerSecond)
                + " (\(ByteCount.format(Int(outcome.populatedAfterFirstSecond))) of \(ByteCount.format(Int(outcome.arenaSize))) populated by then); "
                + steadyText,
            json: json)
    }

    /// Runs every size in `memories` (comma-separated), one store after the other. A size whose store
    /// doesn't start (its memory check refuses an arena larger than the memory available; the reason is
    /// on stderr) gets a row saying so, and the other sizes still run.
    static func rows(memories: String) -> [Row] {
        memories.split(separator: ",").map { size in
            FileHandle.standardError.write(Data("running startup (--memory \(size))…\n".utf8))
            do {
                return row(try run(memory: String(size)))
            } catch {
                let quoted = "\(error)".replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
                return Row(name: "startup \(size)", figure: "failed", spread: "", what: "\(error)",
                           json: [("memory", "\"\(size)\""), ("error", "\"\(quoted)\"")])
            }
        }
    }
}

/// MemAvailable from /proc/meminfo, in bytes.
enum MemoryInfo {
    static func availableBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let parts = line.split(separator: " ")
            return parts.count >= 2 ? Int(parts[1]).map { $0 * 1024 } : nil
        }
        return nil
    }
}

extension [Row] {
    /// The startup rows as the other workloads' are printed: a table, or JSON.
    func report(json: Bool) -> String {
        json ? Report.json(self) : Report.table(self, machine: Machine.describe(), store: "its own, one per size")
    }
}
