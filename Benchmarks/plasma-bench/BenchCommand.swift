import ArgumentParser
import Foundation
import PlasmaClient
import PlasmaCore

/// `plasma-bench`: starts a store (or uses one), runs each workload after a warm-up, repeats it, and
/// prints medians with the spread.
@main
enum Entry {
    static func main() async throws {
        let arguments = CommandLine.arguments
        if arguments.count > 1, arguments[1] == WakeBenchmark.internalCommand {
            return try await WakeBenchmark.waiterMain(Array(arguments.dropFirst(2)))
        }
        BenchCommand.main()
    }
}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plasma-bench",
        abstract: "Measure a plasma store: medians over repetitions, release build.")

    @Option(help: "Use the store already serving on this socket instead of starting one.")
    var socket: String?

    @Option(help: "Capacity of the store the benchmark starts.")
    var memory = "4G"

    @Option(help: "Timed repetitions per workload (after one warm-up).")
    var repetitions = 5

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(help: "Seals per wake measurement.")
    var wakes = 2000

    @Argument(help: "Workloads to run (default: all): \(Self.allNames.joined(separator: ", ")).")
    var names: [String] = []

    static let wakeNames = ["wake-blocking", "wake-async"]
    static var allNames: [String] { workloads.map(\.name) + wakeNames }

    func validate() throws {
        let known = Set(Self.allNames)
        for name in names where !known.contains(name) {
            throw ValidationError("unknown workload '\(name)'; known: \(Self.allNames.joined(separator: ", "))")
        }
        guard repetitions > 0 else { throw ValidationError("--repetitions must be at least 1") }
    }

    func run() throws {
        let store = try socket == nil ? LaunchedStore(memory: memory) : nil
        defer { store?.stop() }
        let path = socket ?? store!.socketPath
        let client = try PlasmaClient(socketPath: path, retries: 600)  // up to a minute: a large arena prefaults first
        let selected = names.isEmpty ? workloads : workloads.filter { names.contains($0.name) }

        var results: [Result] = []
        for workload in selected {
            FileHandle.standardError.write(Data("running \(workload.name)…\n".utf8))
            results.append(try measure(workload, client: client))
        }
        var latencies: [(String, WakeBenchmark.Latencies)] = []
        for name in Self.wakeNames where names.isEmpty || names.contains(name) {
            FileHandle.standardError.write(Data("running \(name) (\(wakes) seals)…\n".utf8))
            let waiter: WakeBenchmark.Waiter = name == "wake-async" ? .async : .blocking
            latencies.append((name, try WakeBenchmark.run(socket: path, waiter: waiter, count: wakes, client: client)))
        }
        print(json ? Report.json(results, latencies: latencies)
                   : Report.table(results, latencies: latencies, machine: Machine.describe(), store: path))
    }

    func measure(_ workload: Workload, client: PlasmaClient) throws -> Result {
        let state = try workload.prepare(client, workload.iterations)
        _ = try workload.run(client, state, max(1, workload.iterations / 4))  // warm-up
        var rates: [Double] = []
        for _ in 0..<repetitions {
            let start = ContinuousClock.now
            let work = try workload.run(client, state, workload.iterations)
            let seconds = (ContinuousClock.now - start).seconds
            rates.append(workload.unit == .bytes ? Double(work) / seconds / 1e9 : Double(work) / seconds)
        }
        try client.delete(state)
        return Result(workload: workload, rates: rates.sorted())
    }
}

struct Result {
    let workload: Workload
    /// One rate per repetition, ascending.
    let rates: [Double]
    var median: Double { rates[rates.count / 2] }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
