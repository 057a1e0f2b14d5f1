import Foundation
import PlasmaArrowClient
import PlasmaClient
import PlasmaCore
import PlasmaToolSupport

/// `--compare-arrow PATH`: starts Arrow's `plasma-store-server` (PATH) with the same capacity as ours,
/// and runs each Arrow-capable workload through the same Swift Arrow-dialect client (`ArrowClient`)
/// against our store and Arrow's, plus the native workload against ours: after one warm-up each, every
/// repetition runs ours (Arrow dialect), Arrow's, ours (native) in turn, so that the machine's noise
/// hits all three alike. Should the store at `ourSocket` not serve the Arrow dialect (builds before it
/// did disconnect at the first Arrow frame), the "ours" column says so and no figure is made up.
/// The workloads that run in the Arrow dialect too.
let arrowWorkloads = workloads.filter { $0.arrowRequests != nil }

enum ArrowComparison {
    struct Line {
        let workload: Workload
        /// Ascending rates, or why there are none.
        let ours: Swift.Result<[Double], Reason>
        let theirs: [Double]
        let native: [Double]
        /// The native median beside its machine limit, sampled before each repetition (nil without one).
        let limited: LimitedFigure?
        /// Put rows: the native median beside the N-thread copy limit, sampled there too.
        var parallelLimited: LimitedFigure? = nil
    }

    struct Reason: Error { let text: String }

    static func run(
        arrowServer: String, memory: String, ourSocket: String, native: PlasmaClient, names: [String], repetitions: Int,
        limits: MachineLimits?
    ) throws -> [Line] {
        let arrowStore = try LaunchedStore(arrowServer: arrowServer, bytes: try ByteCount.parse(memory))
        defer { arrowStore.stop() }
        let theirs: ArrowClient
        do {
            theirs = try ArrowClient(path: arrowStore.socketPath, retries: 100)
            try theirs.connect()
        } catch {
            throw BenchError.childFailed("Arrow's store did not answer (\(error)); its log: \(LaunchedStore.arrowLogPath)")
        }
        var lines: [Line] = []
        var ours = connectOurs(ourSocket)  // probed once: a store that doesn't serve Arrow isn't asked again
        let served = (try? ours.get()) != nil
        for workload in arrowWorkloads where names.isEmpty || names.contains(workload.name) {
            FileHandle.standardError.write(Data("running \(workload.name) (Arrow dialect: ours, Arrow's; native)…\n".utf8))
            if served, case .failure = ours { ours = connectOurs(ourSocket) }  // a fresh connection after a failure
            let line = try compare(workload, ours: &ours, theirs: theirs, native: native, repetitions: repetitions, limits: limits)
            lines.append(line)
        }
        return lines
    }

    /// One workload: prepare and warm up on all three, then alternate timed runs.
    private static func compare(
        _ workload: Workload, ours: inout Swift.Result<ArrowClient, Reason>, theirs: ArrowClient,
        native: PlasmaClient, repetitions: Int, limits: MachineLimits?
    ) throws -> Line {
        let (unit, iterations) = (workload.unit, workload.iterations)
        let warmUp = max(1, iterations / 4)
        let theirState = try workload.prepare(theirs, iterations)
        let nativeState = try workload.prepare(native, iterations)
        let ourState = attempt(&ours) { client -> [ObjectID] in
            let state = try workload.prepare(client, iterations)
            _ = try workload.run(client, state, warmUp)
            return state
        } ?? []
        _ = try workload.run(theirs, theirState, warmUp)
        _ = try workload.run(native, nativeState, warmUp)

        var ourRates: [Double] = []
        var theirRates: [Double] = []
        var nativeRates: [Double] = []
        var limitSamples: [Double] = []
        var parallelSamples: [Double] = []
        for _ in 0..<repetitions {
            if let limits, let kind = workload.limit { limitSamples.append(try limits.sample(kind)) }
            if let limits, let kind = workload.parallelLimit { parallelSamples.append(try limits.sample(kind)) }
            if let rate = attempt(&ours, { client in try timed(unit) { try workload.run(client, ourState, iterations) } }) {
                ourRates.append(rate)
            }
            theirRates.append(try timed(unit) { try workload.run(theirs, theirState, iterations) })
            nativeRates.append(try timed(unit) { try workload.run(native, nativeState, iterations) })
        }
        if !ourState.isEmpty { _ = attempt(&ours) { client in try client.delete(ourState) } }
        if !theirState.isEmpty { try theirs.delete(theirState) }
        try native.delete(nativeState)
        let ourResult: Swift.Result<[Double], Reason>
        switch ours {
        case .success: ourResult = .success(ourRates.sorted())
        case .failure(let reason): ourResult = .failure(reason)
        }
        let native = nativeRates.sorted()
        let limited = workload.limit.flatMap { kind in
            limitSamples.isEmpty ? nil : LimitedFigure(kind: kind, value: native[native.count / 2], samples: limitSamples)
        }
        let parallelLimited = workload.parallelLimit.flatMap { kind in
            parallelSamples.isEmpty ? nil : LimitedFigure(kind: kind, value: native[native.count / 2], samples: parallelSamples)
        }
        return Line(workload: workload, ours: ourResult, theirs: theirRates.sorted(), native: native, limited: limited,
                    parallelLimited: parallelLimited)
    }

    /// Our store in the Arrow dialect, or why not: a disconnect at the first frame means it doesn't serve
    /// the dialect (yet).
    private static func connectOurs(_ socket: String) -> Swift.Result<ArrowClient, Reason> {
        do {
            let client = try ArrowClient(path: socket)
            try client.connect()
            return .success(client)
        } catch ArrowClient.Failure.disconnected {
            return .failure(Reason(text: "Arrow dialect not served yet"))
        } catch {
            return .failure(Reason(text: "Arrow connect failed: \(error)"))
        }
    }

    /// Runs `body` on our Arrow-dialect client if there is one; a failure ends our side of this workload.
    private static func attempt<T>(_ ours: inout Swift.Result<ArrowClient, Reason>, _ body: (ArrowClient) throws -> T) -> T? {
        guard case .success(let client) = ours else { return nil }
        do {
            return try body(client)
        } catch {
            ours = .failure(Reason(text: "failed: \(error)"))
            return nil
        }
    }

    private static func timed(_ unit: Workload.Unit, _ body: () throws -> Int) rethrows -> Double {
        let start = ContinuousClock.now
        let work = try body()
        let seconds = (ContinuousClock.now - start).inSeconds
        return unit == .bytes ? Double(work) / seconds / 1e9 : Double(work) / seconds
    }
}

extension ArrowComparison.Line {
    var unit: String { workload.unit.rawValue }
    var theirMedian: Double { theirs[theirs.count / 2] }
    var nativeMedian: Double { native[native.count / 2] }
    var ourMedian: Double? { (try? ours.get()).map { $0[$0.count / 2] } }
    var ratio: Double? { ourMedian.map { $0 / theirMedian } }

    var json: [(String, String)] {
        let ourRates = try? ours.get()
        let status: String
        switch ours {
        case .success: status = "null"
        case .failure(let reason): status = Report.jsonString(reason.text)
        }
        return [
            ("unit", "\"\(unit)\""), ("arrow_requests", Report.jsonString(workload.arrowRequests ?? "")),
            ("ours_arrow_median", ourMedian.map { "\($0)" } ?? "null"),
            ("ours_arrow_min", ourRates.map { "\($0.first!)" } ?? "null"),
            ("ours_arrow_max", ourRates.map { "\($0.last!)" } ?? "null"),
            ("ours_arrow_status", status),
            ("arrow_median", "\(theirMedian)"), ("arrow_min", "\(theirs.first!)"), ("arrow_max", "\(theirs.last!)"),
            ("ratio_ours_to_arrow", ratio.map { "\($0)" } ?? "null"),
            ("native_median", "\(nativeMedian)"), ("native_min", "\(native.first!)"), ("native_max", "\(native.last!)"),
            ("repetitions", "\(theirs.count)"),
        ]
    }
}
