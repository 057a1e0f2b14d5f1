import Foundation
import PlasmaClient
import PlasmaCore
import PlasmaPosix
import PlasmaToolSupport
import Synchronization

/// `fanout`: S subscribers, each subscribed to its own K objects, in P processes (one connection per
/// subscriber); one producer seals all S×K. Measures the producer's seal rate against the same seals
/// with no subscribers (same invocation), how long until every subscriber has all its events, and how
/// many events arrived (must be exactly S×K) or were lost.
enum FanoutBenchmark {
    static let role = "__fanout-subscribers"

    struct Outcome {
        let subscribers: Int
        let perSubscriber: Int
        let baselineRate: Double
        let producerRate: Double
        let deliverySeconds: Double
        let delivered: Int
        let lost: Int
        /// CPU the store spent per seal without subscribers and with them (from the first seal until every
        /// subscriber had all its events); nil when its process can't be read.
        let storeBaseline: CPUUsage?
        let storeWatched: CPUUsage?
        /// The producer's process while it sealed, without and with subscribers.
        let producerBaseline: CPUUsage
        let producerWatched: CPUUsage
        /// All subscriber processes, from the moment all their subscriptions were sent until the last event.
        let subscriberCPU: CPUUsage
    }

    static func run(socket: String, subscribers: Int, perSubscriber: Int, processes: Int, client: PlasmaClient) throws -> Outcome {
        let total = subscribers * perSubscriber
        let payload = [UInt8](repeating: 1, count: 64)

        let storePID = CPUUsage.storePID(socket: socket)
        let storeCPU = { storePID.flatMap { CPUUsage.ofProcess($0) } }

        let baselineIDs = (0..<total).map { _ in ObjectID.random() }
        let (storeBefore, producerBefore) = (storeCPU(), CPUUsage.ofThisProcess())
        let baselineStart = ContinuousClock.now
        for id in baselineIDs { try client.createAndSeal(id, data: payload) }
        let baselineRate = Double(total) / (ContinuousClock.now - baselineStart).inSeconds
        let (storeBaseline, producerBaseline) = (storeCPU().flatMap { a in storeBefore.map { a - $0 } }, CPUUsage.ofThisProcess() - producerBefore)
        try deleteAll(baselineIDs, client)

        let ids = (0..<total).map { _ in ObjectID.random() }
        let list = try writeIDs(ids.map(\.hex), tag: "fanout")
        defer { try? FileManager.default.removeItem(at: list) }
        let perProcess = (subscribers + processes - 1) / processes
        // Counted before the subscribers start, or fast ones would be counted in `before` and waited for again.
        let before = try client.statistics().subscriptions
        let children = try stride(from: 0, to: subscribers, by: perProcess).map { first in
            try ChildProcess(role: role, [socket, list.path, "\(perSubscriber)", "\(first)", "\(min(perProcess, subscribers - first))"])
        }
        while try client.statistics().subscriptions < before + Int64(subscribers) { usleep(10_000) }

        let (storeStart, producerStart) = (storeCPU(), CPUUsage.ofThisProcess())
        let sealStart = MonotonicClock.nanoseconds()
        let start = ContinuousClock.now
        // Round-robin over subscribers, so that every seal goes to a different connection.
        for index in 0..<total {
            let subscriber = index % subscribers
            try client.createAndSeal(ids[subscriber * perSubscriber + index / subscribers], data: payload)
        }
        let producerRate = Double(total) / (ContinuousClock.now - start).inSeconds
        let producerWatched = CPUUsage.ofThisProcess() - producerStart

        var delivered = 0
        var lost = 0
        var lastFinish = sealStart
        var subscriberCPU = CPUUsage()
        for child in children {
            for line in child.finish().split(separator: "\n") {
                if let usage = CPUUsage(line: line) {
                    subscriberCPU = subscriberCPU + usage
                    continue
                }
                let fields = line.split(separator: " ").compactMap { UInt64($0) }
                guard fields.count == 3 else { continue }
                delivered += Int(fields[0])
                lost += Int(fields[1])
                lastFinish = max(lastFinish, fields[2])
            }
        }
        let storeWatched = storeCPU().flatMap { a in storeStart.map { a - $0 } }
        try deleteAll(ids, client)
        return Outcome(
            subscribers: subscribers, perSubscriber: perSubscriber, baselineRate: baselineRate,
            producerRate: producerRate, deliverySeconds: Double(lastFinish - sealStart) / 1e9,
            delivered: delivered, lost: lost + (total - delivered - lost), storeBaseline: storeBaseline,
            storeWatched: storeWatched, producerBaseline: producerBaseline, producerWatched: producerWatched,
            subscriberCPU: subscriberCPU)
    }

    private static func deleteAll(_ ids: [ObjectID], _ client: PlasmaClient) throws {
        for start in stride(from: 0, to: ids.count, by: 10_000) {
            try client.delete(Array(ids[start..<min(ids.count, start + 10_000)]))
        }
    }

    /// A subscriber process: one connection per subscriber, each counting its K sealed events.
    /// Prints "delivered lost finish-ns" per subscriber, then the process's CPU use (`CPUUsage.line`) from
    /// the moment all its subscriptions were sent: what receiving the events cost.
    static func subscribersMain(_ arguments: [String]) async throws {
        let (socket, listPath) = (arguments[0], arguments[1])
        let (perSubscriber, first, count) = (Int(arguments[2])!, Int(arguments[3])!, Int(arguments[4])!)
        // Only this process's ids, found by offset (one 40-digit line each): splitting all S×K lines in
        // every process was most of a subscriber's start-up.
        let list = try [UInt8](Data(contentsOf: URL(fileURLWithPath: listPath)))
        let line = 2 * ObjectID.byteCount + 1
        let ids = ((first * perSubscriber)..<((first + count) * perSubscriber)).map { index in
            ObjectID(hex: String(decoding: list[(index * line)..<(index * line + line - 1)], as: UTF8.self))!
        }
        let subscribed = SubscribedCount(expected: count)
        let lines = try await withThrowingTaskGroup(of: String.self) { group in
            for subscriber in 0..<count {
                let mine = Array(ids[(subscriber * perSubscriber)..<((subscriber + 1) * perSubscriber)])
                group.addTask {
                    let client = try AsyncPlasmaClient(socketPath: socket)
                    var (delivered, lost) = (0, 0)
                    let events = client.events(for: mine)
                    subscribed.arrived()
                    for try await event in events {
                        switch event {
                        case .sealed: delivered += 1
                        case .overflow(let dropped): lost += dropped
                        default: break
                        }
                        if delivered + lost >= perSubscriber { break }
                    }
                    return "\(delivered) \(lost) \(MonotonicClock.nanoseconds())"
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let usage = CPUUsage.ofThisProcess() - (subscribed.usage ?? CPUUsage())
        print((lines + [usage.line]).joined(separator: "\n"))
    }
}

/// Takes the subscriber process's CPU reading once all its subscriptions have been sent (no seal can
/// come before: the producer waits for every subscription).
private final class SubscribedCount: Sendable {
    private let state: Mutex<(count: Int, usage: CPUUsage?)>
    private let expected: Int

    init(expected: Int) {
        self.expected = expected
        state = Mutex((0, nil))
    }

    func arrived() {
        state.withLock { state in
            state.count += 1
            if state.count == expected { state.usage = CPUUsage.ofThisProcess() }
        }
    }

    var usage: CPUUsage? { state.withLock { $0.usage } }
}

extension FanoutBenchmark.Outcome {
    /// The report line: the producer's rate against its unwatched rate, delivery, and what each event cost
    /// the store (CPU per seal, watched minus unwatched) and the subscribers (CPU per event delivered).
    var row: Row {
        let total = subscribers * perSubscriber
        var costs = ["subscribers " + subscriberCPU.perUnit(delivered, "event")]
        var json = [("producer_rate", "\(producerRate)"), ("baseline_rate", "\(baselineRate)"),
                    ("delivered", "\(delivered)"), ("lost", "\(lost)"), ("delivery_seconds", "\(deliverySeconds)"),
                    ("subscriber_cpu_ns_per_event", "\(Double(subscriberCPU.nanoseconds) / Double(max(delivered, 1)))"),
                    ("subscriber_switches_per_event",
                     "\(Double(subscriberCPU.voluntarySwitches + subscriberCPU.involuntarySwitches) / Double(max(delivered, 1)))"),
                    ("producer_cpu_ns_per_seal", "\(Double(producerWatched.nanoseconds) / Double(total))"),
                    ("producer_baseline_cpu_ns_per_seal", "\(Double(producerBaseline.nanoseconds) / Double(total))")]
        if let storeBaseline, let storeWatched {
            costs.append("store " + storeWatched.perUnit(total, "seal") + " (unwatched " + storeBaseline.perUnit(total, "seal") + ")")
            json += [("store_cpu_ns_per_seal", "\(Double(storeWatched.nanoseconds) / Double(total))"),
                     ("store_baseline_cpu_ns_per_seal", "\(Double(storeBaseline.nanoseconds) / Double(total))"),
                     ("store_switches_per_seal",
                      "\(Double(storeWatched.voluntarySwitches + storeWatched.involuntarySwitches) / Double(total))")]
        }
        costs.append("producer " + producerWatched.perUnit(total, "seal") + " (unwatched " + producerBaseline.perUnit(total, "seal") + ")")
        return Row(
            name: "fanout", figure: "\(Report.format(producerRate)) seals/s",
            spread: String(format: "%.0f%% of %@ unwatched", 100 * producerRate / baselineRate, Report.format(baselineRate)),
            what: String(format: "%d subscribers × %d: delivered %d, lost %d, all delivered %.2f s after the first seal",
                         subscribers, perSubscriber, delivered, lost, deliverySeconds) + "; " + costs.joined(separator: "; "),
            json: json)
    }
}
