import ArgumentParser
import Foundation
import PlasmaClient
import PlasmaCore
import PlasmaPosix
import PlasmaToolSupport

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
        case MultiClientBenchmark.role: try MultiClientBenchmark.clientMain(rest)
        case ConnectStormBenchmark.role: try ConnectStormBenchmark.stormMain(rest)
        case SoakClient.role: try await SoakClient.main(rest)
        case HostileAttack.role: try HostileAttack.attackerMain(rest)
        case HostileVictim.role: try HostileVictim.main(rest)
        case PipelinedBenchmark.role: try await PipelinedBenchmark.clientMain(rest)
        case RoundTripPeer.role: try RoundTripPeer.main(rest)
        default: BenchCommand.main()
        }
    }
}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plasma-bench",
        abstract: "Measure a plasma store: medians over repetitions, release build.", version: PlasmaVersion.current)

    @Option(help: "Use the store already serving on this socket instead of starting one.")
    var socket: String?

    @Option(help: "Capacity of the store the benchmark starts (and of Arrow's store, with --compare-arrow).")
    var memory = "4G"

    @Option(help: "Timed repetitions per workload (after one warm-up).")
    var repetitions = 5

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(help: "Seals per wake measurement.")
    var wakes = 2000

    @Option(help: ArgumentHelp("put-pipelined: createAndSeal requests the async client keeps in flight.", valueName: "N"))
    var window = 64

    @Option(help: "fanout: subscribers (one connection each).")
    var subscribers = 1000

    @Option(help: "fanout: objects each subscriber subscribes to.")
    var objectsPerSubscriber = 100

    @Option(help: "fanout: processes the subscribers are spread over.")
    var subscriberProcesses = 20

    @Option(help: "stalled: objects sealed (and deleted) while one subscriber never reads.")
    var stalledSeals = 1_000_000

    @Option(help: ArgumentHelp(
        "put-small, put-small-inline, get-small: client processes running the workload at once, each with its own connection (get-small: and its own 1000 objects); a comma-separated list (e.g. 1,2,4) gives a row per count. The figure is the aggregate: all their operations / time from the first start to the last finish; the row also gives the per-client rates. 1 (the default) runs it in this process. With --compare-arrow, the one-client figure is the comparison's native one and the counts above 1 run natively after it. soak: its client processes (one number, default 32).",
        valueName: "N[,N…]"))
    var clients: String?

    @Option(help: ArgumentHelp(
        "put-large, put-large-1g: threads per copy into an object (the client's ParallelCopy, copies of 8 MiB and more; default: one per core, at most 4; 1: one thread's memmove). The rows are set against one thread's copy limit and against the same copy on N threads (N: these threads, or the default when 1).",
        valueName: "N"))
    var copyThreads: Int?

    @Flag(help: "Don't measure the machine's limits (copy into and read of shared memory, Unix-socket round trip) between repetitions.")
    var noLimits = false

    /// --clients as counts; nil when not given.
    var clientCounts: [Int]? {
        clients.map { $0.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) ?? 0 } }
    }

    @Option(help: ArgumentHelp(
        "soak: seconds of load, at least 10 (default 600). The first tenth (at least 20 s, at most half) is the warm-up. hostile: seconds the attack lasts (default 30).",
        valueName: "seconds"))
    var duration: Int?

    @Option(help: ArgumentHelp(
        "soak: capacity of the separate store the benchmark starts for it, much smaller than the clients' working set (~1.3 GB at 32 clients) so that creates keep evicting. With --socket, soak uses that store.",
        valueName: "size"))
    var soakMemory = "256M"

    @Option(help: ArgumentHelp(
        "connect-storm: clients that connect at once, each doing connect + put (create 64 B, write, seal, release) + get. They run as threads (one connection each) in at most --storm-processes processes, not one process each (1000 Swift processes cost too much memory). The store the benchmark starts allows max(4096, N+256) clients; a --socket store must allow N itself.",
        valueName: "N"))
    var storm = 1000

    @Option(help: ArgumentHelp("connect-storm: most processes the clients are spread over.", valueName: "P"))
    var stormProcesses = 50

    @Option(help: ArgumentHelp(
        "churn: capacity of the separate store the benchmark starts for it (with --socket, churn uses that store and its capacity). The working set is twice the capacity.",
        valueName: "size"))
    var churnMemory = "256M"

    @Option(help: ArgumentHelp("churn: creates per timed repetition (the warm-up is one pass over the working set).", valueName: "N"))
    var churnOperations = 20_000

    @Option(help: "churn and scale: seed of the sizes, ids and sample order.")
    var seed: UInt64 = 1

    @Option(help: ArgumentHelp(
        "scale: objects of 64 B a store is filled with (createAndSeal batches of 1000), once per invocation. The benchmark starts a separate store for it (capacity max(256 MiB, 128 B × N)); with --socket, that store.",
        valueName: "N"))
    var scaleObjects = 1_000_000

    @Option(help: ArgumentHelp("scale: random get+release pairs timed per repetition, at 1000 objects and at --scale-objects.", valueName: "N"))
    var scaleSamples = 10_000

    @Option(help: ArgumentHelp(
        "Path of Arrow's plasma-store-server (pyarrow 11.0.0 wheel): side by side. It starts that store with -m of --memory and runs the Arrow-capable workloads (\(arrowWorkloads.map(\.name).joined(separator: ", "))) through one Swift Arrow-dialect client against it and against our store, alternating with our native dialect; prints both medians, their ratio and the native median. The other selected workloads run natively as usual, in the same invocation.",
        valueName: "path"))
    var compareArrow: String?

    @Option(help: ArgumentHelp(
        "hostile: hostile connections, split evenly over the attacks. The store the benchmark starts allows max(1024, N+64) clients.",
        valueName: "N"))
    var hostileConnections = 200

    @Option(help: ArgumentHelp("hostile: processes each attack's connections are spread over.", valueName: "P"))
    var hostileProcesses = 2

    @Option(help: ArgumentHelp(
        "hostile: the attacks, comma-separated (default all): \(HostileAttack.allCases.map(\.rawValue).joined(separator: ", ")).",
        valueName: "list"))
    var attacks: String?

    @Option(help: ArgumentHelp(
        "hostile: the attacking processes' CPU scheduling class: peer (default: like the store and the well-behaved client; the target's definition), idle (SCHED_IDLE, as `chrt --idle 0`) or nice (nice 19), a labelled variant: how an operator would keep untrusted users off the store's cores.",
        valueName: "class"))
    var attackerScheduling = "peer"

    @Option(help: ArgumentHelp("hostile: capacity of the separate store the benchmark starts for it (with --socket, that store).", valueName: "size"))
    var hostileMemory = "256M"

    @Option(help: ArgumentHelp("hostile: 64 B objects sealed before the attack (what an Arrow subscriber's snapshot holds).", valueName: "N"))
    var hostileObjects = 100_000

    @Option(help: ArgumentHelp("hostile, waiting-gets: gets of 65,536 missing ids each connection sends (fewer if the store refuses one).", valueName: "N"))
    var waitingGets = 16

    @Option(help: ArgumentHelp("hostile, zero-size-objects: 0-byte objects created in all (fewer if the store refuses).", valueName: "N"))
    var zeroSizeObjects = 1_000_000

    @Option(help: ArgumentHelp(
        "hostile: passed to the store the benchmark starts as --client-state-budget (only when given), and the budget of the RSS target when the store's stats report none.",
        valueName: "size"))
    var clientStateBudget: String?

    @Option(help: ArgumentHelp(
        "hostile: the store's RSS at which the attackers are killed to spare the machine, and the run fails (default: half the memory available at start).",
        valueName: "size"))
    var rssCeiling: String?

    @Option(help: ArgumentHelp("startup (alone, only when named): the store sizes launched one after the other, comma-separated.", valueName: "sizes"))
    var startupMemory = "2G,16G"

    @Option(help: ArgumentHelp("cluster-wake: waiting gets on node b woken by a seal on node a (after 10 warm-ups).", valueName: "N"))
    var clusterWakes = 500

    @Option(help: ArgumentHelp(
        "transfer, tcp-limit, cluster-transfer (only when named): object sizes pulled, comma-separated.", valueName: "sizes"))
    var transferSizes = "64M,1G"

    @Argument(help: "Workloads to run (default: all but soak, hostile, startup and large-breakdown): \(Self.allNames.joined(separator: ", ")), soak (alone), hostile (alone), startup (alone), transfer (only when named, with tcp-limit at most: pulls of --transfer-sizes through an in-process transfer server and puller over loopback TCP between two memfd arenas, set against the loopback TCP limit sendfile → recv measured between them), tcp-limit (only when named, with transfer at most: that limit alone), cluster-transfer, cluster-wake, cluster-overhead (only when named, with each other at most: an etcd found on PATH and two plasma-store --cluster started here on loopback; objects of --transfer-sizes sealed on a and got on b against the loopback TCP limit; a seal on a waking a get on b, p50/p99, beside the socket and etcd round trips; put-small and get-small on a --cluster store vs a plain one), large-breakdown (alone: 64 MiB puts and gets timed step by step: some through a new connection, some right after one pass of their limit, the rest back to back, alternating two ways of releasing).")
    var names: [String] = []

    static let wakeNames = ["wake-blocking", "wake-async", "wake-async-readloop"]
    static let processNames = ["put-pipelined", "await-many", "fanout", "stalled", "connect-storm"]
    static let storeNames = ["churn", "scale"]
    static var allNames: [String] { workloads.map(\.name) + wakeNames + processNames + storeNames }
    /// Run only when named, and alone.
    static let aloneNames = ["soak", "hostile", "startup", "large-breakdown"]

    func selected(_ name: String) -> Bool { names.isEmpty || names.contains(name) }

    /// --transfer-sizes in bytes.
    func transferSizeList() throws -> [Int] {
        try transferSizes.split(separator: ",").map { size in
            let bytes = try ByteCount.parse(String(size))
            guard bytes > 0 else { throw ValidationError("a transfer size must be above 0") }
            return bytes
        }
    }

    func validate() throws {
        let known = Self.allNames + Self.aloneNames + TransferBenchmark.names + ClusterBenchmark.names  // startup: StartupBenchmark.swift
        if names.contains(where: TransferBenchmark.names.contains), !names.allSatisfy(TransferBenchmark.names.contains) {
            throw ValidationError("transfer and tcp-limit run without other workloads")
        }
        if names.contains(where: ClusterBenchmark.names.contains), !names.allSatisfy(ClusterBenchmark.names.contains) {
            throw ValidationError("cluster-transfer, cluster-wake and cluster-overhead run without other workloads")
        }
        if names.contains(where: ClusterBenchmark.names.contains), socket != nil {
            throw ValidationError("the cluster rows start their own etcd and stores: --socket doesn't apply")
        }
        guard clusterWakes > 0 else { throw ValidationError("--cluster-wakes must be at least 1") }
        guard (try? transferSizeList()) != nil else {
            throw ValidationError("invalid --transfer-sizes '\(transferSizes)': give sizes separated by commas, e.g. 64M,1G")
        }
        for name in names where !known.contains(name) {
            throw ValidationError("unknown workload '\(name)'; known: \(known.joined(separator: ", "))")
        }
        if compareArrow != nil, names.contains("soak") || names.contains("hostile") {
            throw ValidationError("--compare-arrow doesn't run soak or hostile")
        }
        guard repetitions > 0 else { throw ValidationError("--repetitions must be at least 1") }
        for alone in Self.aloneNames where names.contains(alone) && names.count > 1 {
            throw ValidationError("\(alone) runs alone: name no other workload with it")
        }
        guard names != ["soak"] || (duration ?? 600) >= 10 else { throw ValidationError("--duration must be at least 10") }
        guard names != ["hostile"] || (duration ?? 30) >= 1 else { throw ValidationError("--duration must be at least 1") }
        if names == ["hostile"] { _ = try hostileAttacks() }
        guard hostileConnections > 0, hostileProcesses > 0, hostileObjects >= 0, waitingGets >= 0, zeroSizeObjects >= 0 else {
            throw ValidationError("--hostile-connections and --hostile-processes must be at least 1; --hostile-objects, --waiting-gets and --zero-size-objects at least 0")
        }
        if names == ["soak"], let counts = clientCounts, counts.count != 1 || counts[0] >= 0xFFFF {
            throw ValidationError("soak: --clients takes one number, below 65535")
        }
        guard (clientCounts ?? [1]).allSatisfy({ $0 > 0 }), window > 0, storm > 0, stormProcesses > 0, churnOperations > 0, scaleSamples > 0 else {
            throw ValidationError("--clients, --window, --storm, --storm-processes, --churn-operations and --scale-samples must be at least 1")
        }
        guard scaleObjects >= ScaleBenchmark.firstStep else { throw ValidationError("--scale-objects must be at least \(ScaleBenchmark.firstStep)") }
        let sizes = [("--memory", memory), ("--churn-memory", churnMemory), ("--soak-memory", soakMemory), ("--hostile-memory", hostileMemory)]
            + [("--client-state-budget", clientStateBudget), ("--rss-ceiling", rssCeiling)].compactMap { flag, size in size.map { (flag, $0) } }
        for size in startupMemory.split(separator: ",", omittingEmptySubsequences: false) where (try? ByteCount.parse(String(size))) == nil {
            throw ValidationError("invalid --startup-memory '\(startupMemory)': give sizes separated by commas, e.g. 2G,16G")
        }
        for (flag, size) in sizes where (try? ByteCount.parse(size)) == nil {
            throw ValidationError("invalid \(flag) '\(size)': give a size, e.g. 4G or 256M")
        }
        if let path = compareArrow, !FileManager.default.isExecutableFile(atPath: path) {
            throw ValidationError("--compare-arrow: no executable at \(path)")
        }
    }

    func run() throws {
        if names == ["soak"] { return try runSoak() }
        if names == ["hostile"] { return try runHostile() }
        if names == ["startup"] { return print(StartupBenchmark.rows(memories: startupMemory).report(json: json)) }
        if !names.isEmpty, names.allSatisfy(TransferBenchmark.names.contains) {
            let rows = try TransferBenchmark.rows(sizes: try transferSizeList(), repetitions: repetitions, transfer: names.contains("transfer"))
            return print(json ? Report.json(rows)
                : Report.table(rows, machine: Machine.describe(), store: "none: a transfer server and a puller in this process, loopback TCP"))
        }
        if !names.isEmpty, names.allSatisfy(ClusterBenchmark.names.contains) {
            let rows = try ClusterBenchmark.rows(.init(
                sizes: try transferSizeList(), repetitions: repetitions, wakes: clusterWakes, selected: selected, announce: announce))
            return print(json ? Report.json(rows)
                : Report.table(rows, machine: Machine.describe(), store: "two plasma-store --cluster (a, b) and an etcd, started here on loopback"))
        }
        let store = try socket == nil ? LaunchedStore(memory: memory, maxClients: max(4096, storm + 256)) : nil
        defer { store?.stop() }
        let path = socket ?? store!.socketPath
        if let copyThreads { CopySource.parallelCopy = ParallelCopy(threads: copyThreads) }
        // up to a minute: a large arena prefaults first
        let client = try PlasmaClient(socketPath: path, retries: 600, parallelCopy: CopySource.parallelCopy)
        try PopulationWait.untilPopulated(client, announce: announce)
        if names == ["large-breakdown"] {
            announce("large-breakdown (\(10 * 2 * repetitions) puts and \(9 * 2 * repetitions) gets of 64 MiB)")
            let parts = try LargeBreakdown.run(client: client, socket: path, operations: 2 * repetitions)
            return print(parts.map { LargeBreakdown.report($0.steps, what: $0.what) }.joined(), terminator: "")
        }
        // --compare-arrow: the Arrow-capable workloads run side by side first (Arrow's store and ours
        // through the Arrow dialect, alternating with our native dialect); the rest run natively after.
        let arrowNames = arrowWorkloads.map(\.name)
        let limits = noLimits ? nil : MachineLimits()
        var comparison: [ArrowComparison.Line] = []
        if let arrowServer = compareArrow, names.isEmpty || names.contains(where: arrowNames.contains) {
            comparison = try ArrowComparison.run(
                arrowServer: arrowServer, memory: memory, ourSocket: path, native: client,
                names: names.filter(arrowNames.contains), repetitions: repetitions, limits: limits)
        }
        // Compared workloads ran above with one client; their rows of several client processes run here.
        let compared = Set(compareArrow == nil ? [] : arrowNames)
        let selectedWorkloads = workloads.filter { selected($0.name) }

        var rows: [Row] = []
        for workload in selectedWorkloads {
            for clients in clientCounts ?? [1] {
                if clients > 1, MultiClientBenchmark.workloadNames.contains(workload.name) {
                    announce("\(workload.name) (\(clients) client processes)")
                    let result = try MultiClientBenchmark.measure(
                        workload, socket: path, clients: clients, repetitions: repetitions, limits: limits)
                    rows.append(Row(result, clients: clients))
                } else if clients == (clientCounts ?? [1]).first, !compared.contains(workload.name) {
                    // other workloads run once, in this process
                    announce(workload.name)
                    rows.append(Row(try measure(workload, client: client, limits: limits)))
                }
            }
        }
        if selected("put-pipelined") {
            announce("put-pipelined (window \(window), async client in another process)")
            rows.append(try PipelinedBenchmark.run(socket: path, window: window, repetitions: repetitions))
        }
        for name in Self.wakeNames where self.selected(name) {
            announce("\(name) (\(wakes) seals)")
            let waiter: WakeBenchmark.Waiter = switch name {
            case "wake-async": .async
            case "wake-async-readloop": .asyncReadLoop
            default: .blocking
            }
            // The round trips just before and just after: the wakes take a few seconds. The row is set
            // against the round trip back to back (the issue's limit); the one after idle, whose
            // processes sleep as long as the row's before each message, is reported beside it.
            let before = try limits.map { (try $0.sample(.roundTripLatency), try $0.sample(.roundTripAfterIdle)) }
            let latency = try WakeBenchmark.run(socket: path, waiter: waiter, count: wakes, client: client)
            let after = try limits.map { (try $0.sample(.roundTripLatency), try $0.sample(.roundTripAfterIdle)) }
            let samples = [before, after].compactMap { $0 }
            let p50 = latency.percentile(0.5)
            var json = [("unit", "\"us\""), ("p50", "\(p50)"), ("p99", "\(latency.percentile(0.99))"), ("samples", "\(wakes)")]
            var what = "seal in one process to get returning in another (\(wakes) seals)"
            if !samples.isEmpty {
                let afterIdle = LimitedFigure(kind: .roundTripAfterIdle, value: p50, samples: samples.map(\.1))
                json += afterIdle.json(prefix: "after_idle_")
                what += String(format: "; round trip after idle %@: ratio %.2f", afterIdle.limitText, afterIdle.ratio)
            }
            rows.append(Row(
                name: name, figure: String(format: "p50 %.1f us", p50), spread: String(format: "p99 %.1f us", latency.percentile(0.99)),
                what: what, json: json,
                limited: samples.isEmpty ? nil : LimitedFigure(kind: .roundTripLatency, value: p50, samples: samples.map(\.0))))
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
            rows.append(outcome.row)
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
        if selected("connect-storm") {
            announce("connect-storm (\(storm) clients at once, \(1 + repetitions) storms)")
            rows.append(ConnectStormBenchmark.row(try ConnectStormBenchmark.run(
                socket: path, connections: storm, processes: stormProcesses, repetitions: repetitions)))
        }
        if selected("churn") {
            announce("churn (\(socket == nil ? "own store of \(churnMemory)" : "the --socket store"))")
            let (churnStore, churnClient) = try separateStore(memory: churnMemory, tag: "churn", or: client)
            defer { churnStore?.stop() }
            rows.append(ChurnBenchmark.row(try ChurnBenchmark.run(
                client: churnClient, operations: churnOperations, repetitions: repetitions, seed: seed), seed: seed))
        }
        if selected("scale") {
            announce("scale (\(scaleObjects) objects, \(socket == nil ? "own store" : "the --socket store"))")
            let (scaleStore, scaleClient) = try separateStore(
                memory: ScaleBenchmark.memory(objects: scaleObjects), tag: "scale", or: client)
            defer { scaleStore?.stop() }
            let storePID = try UnixSocket.connect(path: scaleStore?.socketPath ?? path).peerCredentials().pid
            rows.append(ScaleBenchmark.row(try ScaleBenchmark.run(
                client: scaleClient, storePID: storePID, objects: scaleObjects, samples: scaleSamples,
                repetitions: repetitions, seed: seed)))
        }
        // The native median of a compared workload is set against the same limit as when it runs alone.
        let comparisonRows = comparison.map { line in
            Row(name: "arrow-compare:\(line.workload.name)", figure: "", spread: "", what: "", json: line.json,
                limited: line.limited, parallelLimited: line.parallelLimited)
        }
        print(json ? Report.json(rows + comparisonRows)
            : Report.table(rows, machine: Machine.describe(), store: path)
                + (compareArrow.map { Report.comparison(comparison, arrowServer: $0, memory: memory) } ?? ""))
    }

    /// soak, alone: its own store of --soak-memory (none of --memory), or the --socket store. Prints the
    /// table (or JSON) and then fails (exit status 1) when the soak found anything wrong.
    func runSoak() throws {
        let clients = clientCounts?.first ?? 32
        let store = try socket == nil ? LaunchedStore(memory: soakMemory, maxClients: max(1024, 4 * clients), tag: "soak") : nil
        defer { store?.stop() }
        let path = socket ?? store!.socketPath
        let monitor = try PlasmaClient(socketPath: path, retries: 600)
        defer { monitor.close() }
        let storePID = try store?.pid ?? peerPID(path)
        announce("soak (\(clients) client processes, \(duration ?? 600) s, \(socket == nil ? "own store of \(soakMemory)" : "the --socket store"))")
        let outcome = try SoakBenchmark.run(
            socket: path, storePID: storePID, storeIsAlive: { store?.isRunning ?? (kill(storePID, 0) == 0) },
            monitor: monitor, seconds: duration ?? 600, clients: clients, seed: seed)
        let row = SoakBenchmark.row(outcome, seed: seed)
        print(json ? Report.json([row]) : Report.table([row], machine: Machine.describe(), store: path)
            + "\n" + SoakBenchmark.operationsLine(outcome))
        fflush(nil)  // the table before the verdict on stderr
        for error in outcome.errors { FileHandle.standardError.write(Data("soak error: \(error)\n".utf8)) }
        for failure in outcome.failures { FileHandle.standardError.write(Data("soak FAILED: \(failure)\n".utf8)) }
        if !outcome.failures.isEmpty { throw ExitCode.failure }
        FileHandle.standardError.write(Data("soak passed\n".utf8))
    }

    /// The process serving `path`; the probe connection is closed again (and given a moment to go, so
    /// that the soak's count of idle clients doesn't include it).
    func peerPID(_ path: String) throws -> Int32 {
        let probe = try UnixSocket.connect(path: path)
        defer {
            probe.close()
            usleep(100_000)
        }
        return try probe.peerCredentials().pid
    }

    /// A fresh store of its own for a workload that needs a known state (churn, scale), unless --socket
    /// was given: then that store and `client`.
    func separateStore(memory: String, tag: String, or client: PlasmaClient) throws -> (LaunchedStore?, PlasmaClient) {
        guard socket == nil else { return (nil, client) }
        let store = try LaunchedStore(memory: memory, maxClients: 64, tag: tag)
        do {
            let client = try PlasmaClient(socketPath: store.socketPath, retries: 600)
            try PopulationWait.untilPopulated(client, announce: announce)
            return (store, client)
        } catch {
            store.stop()
            throw error
        }
    }

    func announce(_ what: String) {
        FileHandle.standardError.write(Data("running \(what)…\n".utf8))
    }

    /// Warm-up, then `repetitions` timed runs, each after one sample of the workload's machine limit.
    func measure(_ workload: Workload, client: PlasmaClient, limits: MachineLimits?) throws -> Result {
        let state = try workload.prepare(client, workload.iterations)
        _ = try workload.run(client, state, max(1, workload.iterations / 4))  // warm-up
        var (rates, limitSamples, parallelSamples): ([Double], [Double], [Double]) = ([], [], [])
        let parallelKind = workload.parallelLimit
        for _ in 0..<repetitions {
            if let limits, let kind = workload.limit { limitSamples.append(try limits.sample(kind)) }
            if let limits, let parallelKind { parallelSamples.append(try limits.sample(parallelKind)) }
            let start = ContinuousClock.now
            let work = try workload.run(client, state, workload.iterations)
            let seconds = (ContinuousClock.now - start).inSeconds
            rates.append(workload.unit == .bytes ? Double(work) / seconds / 1e9 : Double(work) / seconds)
        }
        try client.delete(state)
        return Result(workload: workload, rates: rates.sorted(), limitSamples: limitSamples,
                      parallelLimitSamples: parallelSamples)
    }
}

struct Result {
    let workload: Workload
    /// One rate per repetition, ascending.
    let rates: [Double]
    /// With several client processes: each client's own rate (its operations / its own time), every
    /// repetition, ascending.
    var perClient: [Double]? = nil
    /// The workload's machine limit, sampled before each repetition (empty without one).
    var limitSamples: [Double] = []
    /// Put rows: the N-thread copy limit (`Workload.parallelLimit`), sampled before each repetition too.
    var parallelLimitSamples: [Double] = []
    var median: Double { rates[rates.count / 2] }
}
