import Dispatch
import Foundation
import PlasmaClient
import PlasmaCore
import PlasmaPosix
import PlasmaTransfer

/// The cluster rows (issue #15, item 7), through real stores and a real etcd (``ClusterRig``), each set
/// beside a limit measured in the same invocation:
/// - `cluster-transfer`: an object sealed on node a, then a get with a timeout on node b: from the get's
///   start until it returns with the bytes mapped (want → location → pull → hash → seal → reply), against
///   loopback TCP `sendfile` → `recv` of the same size, one sample before each repetition.
/// - `cluster-wake`: a get waiting on b (its want published), then a 64 B createAndSeal on a: from the
///   seal's start until b's get returns; against the Unix-socket round trip with both sides sleeping, and
///   beside it an etcd range request's round trip (the store's directory speaks the same JSON gateway).
///   64 B travel in a's location (``InlineCopy``); a tenth more wakes of 64 KiB objects time the pull's
///   path.
/// - `cluster-overhead`: put-small and get-small against node a (`--cluster`) and a plain store of the
///   same size, in pairs of short rounds, alternating; the share of plain is the median of the pairs'
///   ratios; against 1 / the polling round trip.
enum ClusterBenchmark {
    static let names = ["cluster-transfer", "cluster-wake", "cluster-overhead"]

    struct Settings {
        var sizes: [Int]
        var repetitions: Int
        var wakes: Int
        var selected: (String) -> Bool
        var announce: (String) -> Void
    }

    static func rows(_ settings: Settings) throws -> [Row] {
        let limits = MachineLimits()
        // Room for the largest object and some slack on each node; a plain store of the same size for the
        // overhead row.
        let largest = settings.selected("cluster-transfer") ? settings.sizes.max() ?? 0 : 0
        let memory = "\((largest >> 20) + 256)M"
        let rig = try ClusterRig(memory: memory, announce: settings.announce)
        defer { rig.stop() }
        var rows: [Row] = []
        if settings.selected("cluster-transfer") {
            for size in settings.sizes { rows.append(try transfer(rig, size: size, settings, limits)) }
        }
        if settings.selected("cluster-wake") { rows.append(try wake(rig, settings, limits)) }
        if settings.selected("cluster-overhead") { rows += try overhead(rig, memory: memory, settings, limits) }
        return rows
    }

    // MARK: cluster-transfer

    private static func transfer(_ rig: ClusterRig, size: Int, _ settings: Settings, _ limits: MachineLimits) throws -> Row {
        let name = MachineLimits.sizeName(size)
        settings.announce("cluster-transfer \(name) (a warm-up, then \(settings.repetitions) repetitions: tcp limit, put on a, get on b)")
        let source = CopySource.buffer(size)
        let expected = readEveryByte(source)
        let pulledBefore = try rig.clientB.statistics()
        func once() throws -> Double {
            let id = ObjectID.random()
            try rig.clientA.put(id, size: size) { $0.copyMemory(from: source) }
            let start = ContinuousClock.now
            guard let buffer = try rig.clientB.get(id, timeout: .seconds(120)) else {
                throw BenchError.childFailed("cluster-transfer: b's get of a's \(name) object timed out")
            }
            let seconds = (ContinuousClock.now - start).inSeconds
            let sum = buffer.withUnsafeBytes { $0.count == size ? readEveryByte($0) : 0 }
            try buffer.release()
            guard sum == expected else { throw BenchError.missing }
            _ = try rig.clientB.delete([id])
            _ = try rig.clientA.delete([id])
            return Double(size) / seconds / 1e9
        }
        _ = try limits.sample(.tcp(size))  // warm-up: populates the limit's buffers, opens b's connection to a
        _ = try once()
        var rates: [Double] = []
        var samples: [Double] = []
        var hashSeconds: [Double] = []
        for _ in 0..<settings.repetitions {
            samples.append(try limits.sample(.tcp(size)))
            rates.append(try once())
            // For scale: one XXH64 pass over the object. a hashes while it sends (wire v3's trailer) and
            // again after publishing (first/'s checksum), b beside the receive: none is in series now.
            let hashStart = ContinuousClock.now
            _ = XXH64.hash(source)
            hashSeconds.append((ContinuousClock.now - hashStart).inSeconds)
        }
        let etcd = try EtcdConnection(port: rig.etcd.clientPort)
        let puts = try etcd.roundTrips(20, writes: true)
        let hash = hashSeconds.sorted()[hashSeconds.count / 2]
        let pulledAfter = try rig.clientB.statistics()
        let pulls = pulledAfter.clusterPullsSucceeded - pulledBefore.clusterPullsSucceeded
        guard pulls == Int64(settings.repetitions + 1) else {
            throw BenchError.childFailed("cluster-transfer: b counted \(pulls) pulls for \(settings.repetitions + 1) gets")
        }
        rates.sort()
        let median = rates[rates.count / 2]
        return Row(
            name: "cluster-transfer-\(name)", figure: "\(Report.format(median)) GB/s",
            spread: "\(Report.format(rates.first!)) … \(Report.format(rates.last!))",
            what: String(format: "put %@ on store a, then get (timeout 120 s) on store b: from the get's start until it returns mapped (want in etcd, a's location, pull over loopback TCP, XXH64, seal), plasma-store --cluster ×2 + etcd; %.1f ms median; for scale, one XXH64 pass over the object %.1f ms, the tcp limit's time %.1f ms, an etcd put p50 %.2f ms",
                          name, Double(size) / median / 1e6, hash * 1e3, Double(size) / samples.sorted()[samples.count / 2] / 1e6, puts.p50 / 1e3),
            json: [("unit", "\"GB/s\""), ("median", "\(median)"), ("min", "\(rates.first!)"), ("max", "\(rates.last!)"),
                   ("repetitions", "\(rates.count)"), ("size", "\(size)"), ("xxh64_seconds", "\(hash)"),
                   ("etcd_put_p50_us", "\(puts.p50)")],
            limited: LimitedFigure(kind: .tcp(size), value: median, samples: samples))
    }

    // MARK: cluster-wake

    private static func wake(_ rig: ClusterRig, _ settings: Settings, _ limits: MachineLimits) throws -> Row {
        settings.announce("cluster-wake (\(settings.wakes) waiting gets on b, each woken by a seal on a)")
        let monitor = try PlasmaClient(socketPath: rig.b.socketPath)
        defer { monitor.close() }
        let etcd = try EtcdConnection(port: rig.etcd.clientPort)
        let data = [UInt8](repeating: 9, count: smallObjectSize)
        // Over the stores' --cluster-inline-max (1 KiB): its copy is pulled, not taken from the location.
        let pulledData = [UInt8](repeating: 8, count: 64 << 10)
        let waiter = DispatchQueue(label: "plasma-bench.cluster-wake")
        let waiting = WaitingClient(rig.clientB)
        var located: [Double] = []
        func once(split: Bool = false, pulled: Bool = false) throws -> Double {
            let id = ObjectID.random()
            let wantsBefore = try monitor.statistics().clusterWantsPublished
            let returned = WakeTime()
            waiter.async {
                do {
                    let buffer = try waiting.client.get(id, timeout: .seconds(20))
                    returned.set(buffer == nil ? .failure("timed out") : .success(MonotonicClock.nanoseconds()))
                    try buffer?.release()
                } catch {
                    returned.set(.failure("\(error)"))
                }
            }
            // The get is waiting once b has noted its want and etcd holds it (a sees it through its watch).
            while try monitor.statistics().clusterWantsPublished == wantsBefore {
                if let failure = returned.failure { throw BenchError.childFailed("cluster-wake: b's get failed early: \(failure)") }
                usleep(100)
            }
            while try !etcd.exists(rig.keyPrefix + "wants/\(id.hex)/b") {
                if let failure = returned.failure { throw BenchError.childFailed("cluster-wake: b's get failed early: \(failure)") }
            }
            let sealed = MonotonicClock.nanoseconds()
            try rig.clientA.createAndSeal(id, data: pulled ? pulledData : data)
            if split {
                // Where the time goes: until a's location is in etcd (a's part), and the rest (b's).
                while returned.failure == nil, try !etcd.exists(rig.keyPrefix + "locations/\(id.hex)/a") {}
                located.append(Double(MonotonicClock.nanoseconds() - sealed) / 1000)
            }
            let end = try returned.wait()
            _ = try rig.clientB.delete([id])
            _ = try rig.clientA.delete([id])
            return Double(end - sealed) / 1000
        }
        for _ in 0..<10 { _ = try once() }  // warm-up
        let before = try limits.sample(.roundTripLatency)
        let etcdBefore = try etcd.roundTrips(200)
        let putsBefore = try etcd.roundTrips(50, writes: true)
        var latencies: [Double] = []
        for _ in 0..<settings.wakes { latencies.append(try once()) }
        // A tenth more, each polling etcd for a's location meanwhile (apart: the polling loads etcd).
        var splitLatencies: [Double] = []
        for _ in 0..<max(1, settings.wakes / 10) { splitLatencies.append(try once(split: true)) }
        // And a tenth with 64 KiB objects: the pull's path (a transfer connection, a's pin, b's block).
        let pullsBefore = try rig.clientB.statistics().clusterPullsSucceeded
        var pulledLatencies: [Double] = []
        for _ in 0..<max(1, settings.wakes / 10) { pulledLatencies.append(try once(pulled: true)) }
        guard try rig.clientB.statistics().clusterPullsSucceeded - pullsBefore == Int64(pulledLatencies.count) else {
            throw BenchError.childFailed("cluster-wake: b did not pull every 64 KiB object")
        }
        located.sort()
        splitLatencies.sort()
        pulledLatencies.sort()
        let after = try limits.sample(.roundTripLatency)
        let etcdAfter = try etcd.roundTrips(200)
        let putsAfter = try etcd.roundTrips(50, writes: true)
        #if Cluster
        let clientPut = try EtcdClientTiming.putP50(port: rig.etcd.clientPort, count: 50)
        let clientPublish = try EtcdClientTiming.publishP50(port: rig.etcd.clientPort, count: 50)
        #else
        let clientPut = Double.nan, clientPublish = Double.nan
        #endif
        latencies.sort()
        let p50 = latencies[latencies.count / 2], p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
        let etcdP50 = (etcdBefore.p50 + etcdAfter.p50) / 2
        return Row(
            name: "cluster-wake", figure: String(format: "p50 %.0f us", p50), spread: String(format: "p99 %.0f us", p99),
            what: String(format: "get waiting on b (want published), createAndSeal 64 B on a (its bytes travel in a's location), until b's get returns (%d wakes); etcd range round trip p50 %.0f / %.0f us, p99 %.0f / %.0f us (before / after); %.1f etcd range round trips; an etcd put (a committed write) p50 %.0f / %.0f us, %.0f us through the stores' EtcdClient, a location's publish transaction through it %.0f us; %d more with etcd polled for a's location (the polling loads etcd): p50 %.0f us, of which seal → a's location in etcd p50 %.0f us; %d more with 64 KiB objects, pulled: p50 %.0f us",
                         settings.wakes, etcdBefore.p50, etcdAfter.p50, etcdBefore.p99, etcdAfter.p99, p50 / etcdP50, putsBefore.p50, putsAfter.p50, clientPut,
                         clientPublish, splitLatencies.count, splitLatencies[splitLatencies.count / 2], located[located.count / 2],
                         pulledLatencies.count, pulledLatencies[pulledLatencies.count / 2]),
            json: [("unit", "\"us\""), ("p50", "\(p50)"), ("p99", "\(p99)"), ("samples", "\(latencies.count)"),
                   ("etcd_range_p50_us_before", "\(etcdBefore.p50)"), ("etcd_range_p50_us_after", "\(etcdAfter.p50)"),
                   ("etcd_range_p99_us_before", "\(etcdBefore.p99)"), ("etcd_range_p99_us_after", "\(etcdAfter.p99)"),
                   ("ratio_to_etcd_range_p50", "\(p50 / etcdP50)"),
                   ("etcd_put_p50_us_before", "\(putsBefore.p50)"), ("etcd_put_p50_us_after", "\(putsAfter.p50)"),
                   ("etcd_client_put_p50_us", clientPut.isNaN ? "null" : "\(clientPut)"),
                   ("etcd_client_publish_p50_us", clientPublish.isNaN ? "null" : "\(clientPublish)"),
                   ("pulled_samples", "\(pulledLatencies.count)"), ("pulled_p50", "\(pulledLatencies[pulledLatencies.count / 2])"),
                   ("split_samples", "\(splitLatencies.count)"), ("split_p50", "\(splitLatencies[splitLatencies.count / 2])"),
                   ("seal_to_location_in_etcd_p50", "\(located[located.count / 2])"),
                   ("etcd_put_p99_us_before", "\(putsBefore.p99)"), ("etcd_put_p99_us_after", "\(putsAfter.p99)")],
            limited: LimitedFigure(kind: .roundTripLatency, value: p50, samples: [before, after]))
    }

    // MARK: cluster-overhead

    /// Pairs of short rounds per `--repetitions` (each a quarter of the workload's operations).
    static let overheadRoundsPerRepetition = 4

    private static func overhead(_ rig: ClusterRig, memory: String, _ settings: Settings, _ limits: MachineLimits) throws -> [Row] {
        settings.announce("cluster-overhead: a plain store of \(memory) beside node a")
        let plainStore = try LaunchedStore(memory: memory, maxClients: 64, tag: "plain")
        defer { plainStore.stop() }
        let plain = try PlasmaClient(socketPath: plainStore.socketPath, retries: 600)
        defer { plain.close() }
        try PopulationWait.untilPopulated(plain, announce: settings.announce)
        var rows: [Row] = []
        for workload in workloads where ["put-small", "get-small"].contains(workload.name) {
            settings.announce("cluster-overhead \(workload.name) (\(settings.repetitions * Self.overheadRoundsPerRepetition) pairs of short rounds, plain and --cluster alternating)")
            let plainState = try workload.prepare(plain, workload.iterations)
            let clusterState = try workload.prepare(rig.clientA, workload.iterations)
            _ = try workload.run(plain, plainState, workload.iterations / 4)
            _ = try workload.run(rig.clientA, clusterState, workload.iterations / 4)
            var plainRates: [Double] = [], clusterRates: [Double] = [], ratios: [Double] = [], samples: [Double] = []
            func rate(_ client: PlasmaClient, _ state: [ObjectID], _ operations: Int) throws -> Double {
                let start = ContinuousClock.now
                let work = try workload.run(client, state, operations)
                return Double(work) / (ContinuousClock.now - start).inSeconds
            }
            // Short rounds, many of them, each a pair run back to back: this machine's rate drifts by 10-20 %
            // within seconds, so a pair sees the same machine and its ratio cancels the drift that the ratio
            // of two medians keeps (Benchmarks/README.md, the `cluster-overhead` row).
            let rounds = settings.repetitions * Self.overheadRoundsPerRepetition
            let operations = max(1, workload.iterations / Self.overheadRoundsPerRepetition)
            for round in 0..<rounds {
                if round % Self.overheadRoundsPerRepetition == 0 { samples.append(try limits.sample(.roundTripRate)) }
                // Which goes first alternates, and flips from one sample to the next, so that neither
                // always goes first nor always follows the limit's sample.
                let plainRate: Double, clusterRate: Double
                if (round + round / Self.overheadRoundsPerRepetition) % 2 == 0 {
                    plainRate = try rate(plain, plainState, operations)
                    clusterRate = try rate(rig.clientA, clusterState, operations)
                } else {
                    clusterRate = try rate(rig.clientA, clusterState, operations)
                    plainRate = try rate(plain, plainState, operations)
                }
                plainRates.append(plainRate)
                clusterRates.append(clusterRate)
                ratios.append(clusterRate / plainRate)
            }
            _ = try plain.delete(plainState)
            _ = try rig.clientA.delete(clusterState)
            plainRates.sort()
            clusterRates.sort()
            ratios.sort()
            let plainMedian = plainRates[plainRates.count / 2], clusterMedian = clusterRates[clusterRates.count / 2]
            // An even count: the middle two averaged, and quartiles taken as far from either end.
            let ratio = (ratios[(ratios.count - 1) / 2] + ratios[ratios.count / 2]) / 2
            let lowerQuartile = ratios[(ratios.count - 1) / 4], upperQuartile = ratios[ratios.count - 1 - (ratios.count - 1) / 4]
            rows.append(Row(
                name: "cluster-overhead-\(workload.name)", figure: "\(Report.format(clusterMedian)) ops/s",
                spread: String(format: "%.1f %% of plain", 100 * ratio),
                what: "\(workload.summary) on a --cluster store (with etcd) vs a plain store (\(Report.format(plainMedian)) ops/s, \(Report.format(plainRates.first!)) … \(Report.format(plainRates.last!))), \(rounds) pairs of rounds of \(operations) ops, alternating; % of plain: median of the pairs' ratios (quartiles \(String(format: "%.1f", 100 * lowerQuartile)) … \(String(format: "%.1f", 100 * upperQuartile)) %)",
                json: [("unit", "\"ops/s\""), ("median", "\(clusterMedian)"), ("min", "\(clusterRates.first!)"), ("max", "\(clusterRates.last!)"),
                       ("plain_median", "\(plainMedian)"), ("plain_min", "\(plainRates.first!)"), ("plain_max", "\(plainRates.last!)"),
                       ("ratio_to_plain", "\(ratio)"), ("ratio_to_plain_lower_quartile", "\(lowerQuartile)"),
                       ("ratio_to_plain_upper_quartile", "\(upperQuartile)"), ("rounds", "\(rounds)"),
                       ("operations_per_round", "\(operations)"), ("repetitions", "\(settings.repetitions)")],
                limited: LimitedFigure(kind: .roundTripRate, value: clusterMedian, samples: samples)))
        }
        return rows
    }
}

/// b's client, handed to the waiter's queue for one get at a time.
private final class WaitingClient: @unchecked Sendable {
    // @unchecked: only the waiter's queue uses it while a get waits; the main thread only after
    // `WakeTime.wait()` has returned.
    let client: PlasmaClient
    init(_ client: PlasmaClient) { self.client = client }
}

/// When the waiting get on b returned (monotonic ns), or why it failed; set by the waiter's thread.
private final class WakeTime: @unchecked Sendable {
    // @unchecked: `outcome` is only touched under `lock`; `done` is signalled once.
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)
    private var outcome: Swift.Result<UInt64, WakeFailure>?

    struct WakeFailure: Error { let what: String }

    enum Outcome {
        case success(UInt64)
        case failure(String)
    }

    func set(_ value: Outcome) {
        lock.withLock {
            switch value {
            case .success(let time): outcome = .success(time)
            case .failure(let what): outcome = .failure(WakeFailure(what: what))
            }
        }
        done.signal()
    }

    var failure: String? {
        lock.withLock { if case .failure(let failure)? = outcome { failure.what } else { nil } }
    }

    func wait() throws -> UInt64 {
        done.wait()
        switch lock.withLock({ outcome! }) {
        case .success(let time): return time
        case .failure(let failure): throw BenchError.childFailed("cluster-wake: b's get failed: \(failure.what)")
        }
    }
}
