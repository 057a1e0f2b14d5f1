import ArgumentParser
import Foundation
import PlasmaClient
import PlasmaCore
import PlasmaPosix

/// `plasma-bench`: starts a store (or uses one), runs each workload after a warm-up, repeats it, and
/// prints medians with the spread.
@main
enum Entry {
    static func main() async throws {
        let arguments = CommandLine.arguments
        let rest = Array(arguments.dropFirst(2))
        switch arguments.count > 1 ? arguments[1] : "" {
        case WakeBenchmark.internalCommand: try await WakeBenchmark.waiterMain(rest)
        case FanoutBenchmark.role: try await FanoutBenchmark.subscribersMain(rest)
        case StalledBenchmark.role: try await StalledBenchmark.healthyMain(rest)
        case AwaitManyBenchmark.role: try await AwaitManyBenchmark.waiterMain(rest)
        default: BenchCommand.main()
        }
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

    @Option(help: "fanout: subscribers (one connection each).")
    var subscribers = 1000

    @Option(help: "fanout: objects each subscriber subscribes to.")
    var objectsPerSubscriber = 100

    @Option(help: "fanout: processes the subscribers are spread over.")
    var subscriberProcesses = 20

    @Option(help: "stalled: objects sealed (and deleted) while one subscriber never reads.")
    var stalledSeals = 1_000_000

    @Argument(help: "Workloads to run (default: all): \(Self.allNames.joined(separator: ", ")).")
    var names: [String] = []

    static let wakeNames = ["wake-blocking", "wake-async"]
    static let processNames = ["await-many", "fanout", "stalled"]
    static var allNames: [String] { workloads.map(\.name) + wakeNames + processNames }

    func selected(_ name: String) -> Bool { names.isEmpty || names.contains(name) }

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
        let selectedWorkloads = names.isEmpty ? workloads : workloads.filter { names.contains($0.name) }

        var rows: [Row] = []
        for workload in selectedWorkloads {
            announce(workload.name)
            rows.append(Row(try measure(workload, client: client)))
        }
        for name in Self.wakeNames where self.selected(name) {
            announce("\(name) (\(wakes) seals)")
            let waiter: WakeBenchmark.Waiter = name == "wake-async" ? .async : .blocking
            let latency = try WakeBenchmark.run(socket: path, waiter: waiter, count: wakes, client: client)
            rows.append(Row(
                name: name, figure: String(format: "p50 %.1f us", latency.percentile(0.5)),
                spread: String(format: "p99 %.1f us", latency.percentile(0.99)),
                what: "seal in one process to get returning in another (\(wakes) seals)",
                json: [("unit", "\"us\""), ("p50", "\(latency.percentile(0.5))"), ("p99", "\(latency.percentile(0.99))"),
                       ("samples", "\(wakes)")]))
        }
        if selected("await-many") {
            announce("await-many (10000 awaits on one connection)")
            let outcome = try AwaitManyBenchmark.run(socket: path, count: 10_000, client: client)
            rows.append(Row(
                name: "await-many", figure: String(format: "%.2fx", outcome.awaitedSeconds / outcome.baselineSeconds),
                spread: String(format: "%.3f s vs %.3f s", outcome.awaitedSeconds, outcome.baselineSeconds),
                what: "\(outcome.resumed) of \(outcome.count) awaits on one connection resumed; time vs the same seals unwatched",
                json: [("ratio", "\(outcome.awaitedSeconds / outcome.baselineSeconds)"), ("resumed", "\(outcome.resumed)"),
                       ("awaited_seconds", "\(outcome.awaitedSeconds)"), ("baseline_seconds", "\(outcome.baselineSeconds)")]))
        }
        if selected("fanout") {
            announce("fanout (\(subscribers) subscribers × \(objectsPerSubscriber) objects)")
            let outcome = try FanoutBenchmark.run(
                socket: path, subscribers: subscribers, perSubscriber: objectsPerSubscriber,
                processes: subscriberProcesses, client: client)
            rows.append(Row(
                name: "fanout", figure: "\(Report.format(outcome.producerRate)) seals/s",
                spread: String(format: "%.0f%% of %@ unwatched", 100 * outcome.producerRate / outcome.baselineRate,
                               Report.format(outcome.baselineRate)),
                what: String(format: "%d subscribers × %d: delivered %d, lost %d, all delivered %.2f s after the first seal",
                             outcome.subscribers, outcome.perSubscriber, outcome.delivered, outcome.lost, outcome.deliverySeconds),
                json: [("producer_rate", "\(outcome.producerRate)"), ("baseline_rate", "\(outcome.baselineRate)"),
                       ("delivered", "\(outcome.delivered)"), ("lost", "\(outcome.lost)"),
                       ("delivery_seconds", "\(outcome.deliverySeconds)")]))
        }
        if selected("stalled") {
            announce("stalled (\(stalledSeals) seals)")
            let storePID = try UnixSocket.connect(path: path).peerCredentials().pid
            let outcome = try StalledBenchmark.run(socket: path, storePID: storePID, seals: stalledSeals, client: client)
            rows.append(Row(
                name: "stalled", figure: String(format: "%+.1f MiB RSS", Double(outcome.rssGrowth) / 1_048_576),
                spread: "healthy got \(outcome.healthyDelivered)/\(outcome.healthyExpected)",
                what: "\(outcome.seals) seals+deletes with one subscriber that never reads (dropped for it: \(outcome.droppedForStalled))",
                json: [("rss_growth_bytes", "\(outcome.rssGrowth)"), ("healthy_delivered", "\(outcome.healthyDelivered)"),
                       ("healthy_expected", "\(outcome.healthyExpected)"), ("dropped_for_stalled", "\(outcome.droppedForStalled)")]))
        }
        print(json ? Report.json(rows) : Report.table(rows, machine: Machine.describe(), store: path))
    }

    func announce(_ what: String) {
        FileHandle.standardError.write(Data("running \(what)…\n".utf8))
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
