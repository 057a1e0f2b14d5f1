import Foundation
import PlasmaClient
import PlasmaCore
import PlasmaPosix

/// `connect-storm`: N clients connect at once and each does one put (create 64 B + write + seal +
/// release) and one get (+ check the bytes + release). Decision: not N processes (1000 Swift processes
/// would cost ~10-20 GiB of RSS on this machine and take seconds to spawn on 2 cores) but at most P child
/// processes (--storm-processes, default 50), each running its share of the clients on one thread per
/// client, every one with its own connection. Threads and processes are started and parked first; the
/// parent then releases all processes, each releases all its threads, and the clock of each client runs
/// from just before its connect to the end of its get. One storm is a warm-up; then --repetitions storms.
enum ConnectStormBenchmark {
    static let role = "__storm"

    struct Round {
        /// connect+put+get per successful client, ascending.
        let latencies: [UInt64]
        let failures: [String]
        /// First client's start to last client's end.
        let spanNanoseconds: UInt64
    }

    struct Outcome {
        let connections: Int
        let processes: Int
        let rounds: [Round]
        var succeeded: Int { rounds.reduce(0) { $0 + $1.latencies.count } }
        var attempted: Int { rounds.count * connections }
        func median(_ value: (Round) -> Double) -> Double {
            let values = rounds.map(value).sorted()
            return values[values.count / 2]
        }
    }

    static func run(socket: String, connections: Int, processes requested: Int, repetitions: Int) throws -> Outcome {
        let processes = max(1, min(requested, connections))
        let shares = (0..<processes).map { connections / processes + ($0 < connections % processes ? 1 : 0) }
        let children = try shares.map {
            try ChildProcess(role: role, [socket, "\($0)", "\(repetitions + 1)"], interactive: true)
        }
        defer { for child in children { _ = child.finish() } }
        for child in children where child.readLine() != "ready" {
            throw BenchError.childFailed("a connect-storm process failed to start its threads")
        }
        var rounds: [Round] = []
        for round in 0...repetitions {
            for child in children { try child.signal() }
            var (latencies, failures) = ([UInt64](), [String]())
            var (first, last) = (UInt64.max, UInt64(0))
            for child in children {
                while let line = child.readLine(), line != "end" {
                    let fields = line.split(separator: " ")
                    if fields.first == "ok", fields.count == 3, let start = UInt64(fields[1]), let end = UInt64(fields[2]) {
                        latencies.append(end - start)
                        (first, last) = (min(first, start), max(last, end))
                    } else {
                        failures.append(String(line.dropFirst(5)))
                    }
                }
            }
            guard latencies.count + failures.count == connections else {
                throw BenchError.childFailed("connect-storm: \(latencies.count + failures.count) of \(connections) clients reported")
            }
            if round == 0 {
                if !failures.isEmpty { warn("connect-storm warm-up: \(failures.count) failed, e.g. \(failures[0])") }
                continue
            }
            rounds.append(Round(latencies: latencies.sorted(), failures: failures, spanNanoseconds: last >= first ? last - first : 0))
        }
        return Outcome(connections: connections, processes: processes, rounds: rounds)
    }

    static func row(_ outcome: Outcome) -> Row {
        let measured = outcome.rounds.filter { !$0.latencies.isEmpty }
        let usable = Outcome(connections: outcome.connections, processes: outcome.processes, rounds: measured)
        let p50 = measured.isEmpty ? .nan : usable.median { Double(percentile($0.latencies, 0.5)) / 1e6 }
        let p99 = measured.isEmpty ? .nan : usable.median { Double(percentile($0.latencies, 0.99)) / 1e6 }
        let span = measured.isEmpty ? .nan : usable.median { Double($0.spanNanoseconds) / 1e6 }
        let failures = outcome.rounds.flatMap(\.failures)
        let perProcess = (outcome.connections + outcome.processes - 1) / outcome.processes
        return Row(
            name: "connect-storm", figure: String(format: "p50 %.2f ms", p50), spread: String(format: "p99 %.2f ms", p99),
            what: "\(outcome.succeeded)/\(outcome.attempted) succeeded: \(outcome.connections) clients at once "
                + "(\(outcome.processes) processes × ≤\(perProcess) threads, one connection each), each connect+put 64 B+get; "
                + String(format: "whole storm %.1f ms; medians of %d storms", span, outcome.rounds.count)
                + (failures.isEmpty ? "" : "; first failure: \(failures[0])"),
            json: [("unit", "\"ms\""), ("p50", "\(p50)"), ("p99", "\(p99)"), ("storm_ms", "\(span)"),
                   ("succeeded", "\(outcome.succeeded)"), ("attempted", "\(outcome.attempted)"),
                   ("connections", "\(outcome.connections)"), ("processes", "\(outcome.processes)"),
                   ("storms", "\(outcome.rounds.count)")])
    }

    /// A storm process: per round, starts one parked thread per client, prints "ready" (first round
    /// only), waits for the parent, releases the threads at once and prints "ok start-ns end-ns" or
    /// "fail reason" per client, then "end".
    static func stormMain(_ arguments: [String]) throws {
        let (socket, clients, rounds) = (arguments[0], Int(arguments[1])!, Int(arguments[2])!)
        for round in 0..<rounds {
            let gate = Gate()
            let results = Results(count: clients)
            for index in 0..<clients {
                let thread = Thread {
                    gate.arriveAndWait()
                    results.set(index, oneClient(socket))
                    gate.leave()
                }
                thread.stackSize = 1 << 20
                thread.start()
            }
            gate.waitUntilArrived(clients)
            if round == 0 { ChildSignal.emit("ready") }
            guard ChildSignal.wait() else { return }
            gate.open()
            gate.waitUntilLeft(clients)
            for line in results.lines { print(line) }
            ChildSignal.emit("end")
        }
    }

    private static func oneClient(_ socket: String) -> String {
        let start = MonotonicClock.nanoseconds()
        do {
            let client = try PlasmaClient(socketPath: socket)
            defer { client.close() }
            let id = ObjectID.random()
            let object = try client.create(id, dataSize: smallObjectSize)
            object.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0x5A) }
            try object.seal().release()
            guard let buffer = try client.get(id, timeout: .no) else { return "fail get found nothing" }
            let intact = buffer.withUnsafeBytes { $0.allSatisfy { $0 == 0x5A } }
            try buffer.release()
            let end = MonotonicClock.nanoseconds()
            try client.delete([id])  // untimed cleanup
            return intact ? "ok \(start) \(end)" : "fail the bytes read back differ"
        } catch {
            return "fail " + "\(error)".replacingOccurrences(of: "\n", with: " ")
        }
    }
}

/// Parks threads until `open()`, and counts them in and out.
private final class Gate: @unchecked Sendable {
    private let condition = NSCondition()
    private var arrived = 0
    private var left = 0
    private var isOpen = false

    func arriveAndWait() {
        condition.lock()
        arrived += 1
        condition.broadcast()
        while !isOpen { condition.wait() }
        condition.unlock()
    }

    func open() {
        condition.lock()
        isOpen = true
        condition.broadcast()
        condition.unlock()
    }

    func leave() {
        condition.lock()
        left += 1
        condition.broadcast()
        condition.unlock()
    }

    func waitUntilArrived(_ count: Int) { waitFor { self.arrived >= count } }
    func waitUntilLeft(_ count: Int) { waitFor { self.left >= count } }

    private func waitFor(_ done: () -> Bool) {
        condition.lock()
        while !done() { condition.wait() }
        condition.unlock()
    }
}

private final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String]
    init(count: Int) { storage = Array(repeating: "fail no result", count: count) }
    func set(_ index: Int, _ line: String) { lock.withLock { storage[index] = line } }
    var lines: [String] { lock.withLock { storage } }
}

func warn(_ text: String) {
    FileHandle.standardError.write(Data("warning: \(text)\n".utf8))
}
