import Foundation
import PlasmaClient
import PlasmaCore
import PlasmaPosix

/// `--clients N`: put-small, put-small-inline and get-small run in N child processes at once, each with
/// its own connection (and, for get-small, its own 1000 objects). Each child warms up, then every
/// repetition starts when the parent releases all children together; the repetition's rate is all their
/// operations divided by the time from the first child's start to the last child's finish (so the
/// slowest child bounds it).
enum MultiClientBenchmark {
    static let role = "__client"
    static let workloadNames: Set<String> = ["put-small", "put-small-inline", "get-small"]

    static func measure(_ workload: Workload, socket: String, clients: Int, repetitions: Int, limits: MachineLimits?) throws -> Result {
        let children = try (0..<clients).map { _ in
            try ChildProcess(role: role, [socket, workload.name, "\(repetitions)"], interactive: true)
        }
        defer { for child in children { _ = child.finish() } }
        for child in children {
            let line = child.readLine()
            guard line == "ready" else { throw BenchError.childFailed("a \(workload.name) client failed before it was ready: \(line ?? "no output")") }
        }
        var (rates, perClient, limitSamples): ([Double], [Double], [Double]) = ([], [], [])
        for _ in 0..<repetitions {
            if let limits, let kind = workload.limit { limitSamples.append(try limits.sample(kind)) }
            for child in children { try child.signal() }
            var (first, last, work) = (UInt64.max, UInt64(0), 0)
            for child in children {
                let fields = child.readLine()?.split(separator: " ").compactMap { UInt64($0) } ?? []
                guard fields.count == 3 else { throw BenchError.childFailed("a \(workload.name) client failed during a repetition") }
                (first, last, work) = (min(first, fields[0]), max(last, fields[1]), work + Int(fields[2]))
                perClient.append(Double(fields[2]) / (Double(fields[1] - fields[0]) / 1e9))
            }
            rates.append(Double(work) / (Double(last - first) / 1e9))
        }
        return Result(workload: workload, rates: rates.sorted(), perClient: perClient.sorted(), limitSamples: limitSamples)
    }

    /// A client process: connect, prepare, warm up, print "ready"; per signal one timed run, printed as
    /// "start-ns end-ns operations" (CLOCK_MONOTONIC, the same clock in every process).
    static func clientMain(_ arguments: [String]) throws {
        let (socket, name, repetitions) = (arguments[0], arguments[1], Int(arguments[2])!)
        guard let workload = workloads.first(where: { $0.name == name }) else { return }
        let client = try PlasmaClient(socketPath: socket)
        let state = try workload.prepare(client, workload.iterations)
        _ = try workload.run(client, state, max(1, workload.iterations / 4))
        ChildSignal.emit("ready")
        for _ in 0..<repetitions {
            guard ChildSignal.wait() else { break }
            let start = MonotonicClock.nanoseconds()
            let work = try workload.run(client, state, workload.iterations)
            ChildSignal.emit("\(start) \(MonotonicClock.nanoseconds()) \(work)")
        }
        try client.delete(state)
    }
}
