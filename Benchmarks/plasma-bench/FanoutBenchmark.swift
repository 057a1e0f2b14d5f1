import Foundation
import PlasmaClient
import PlasmaCore
import PlasmaPosix

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
    }

    static func run(socket: String, subscribers: Int, perSubscriber: Int, processes: Int, client: PlasmaClient) throws -> Outcome {
        let total = subscribers * perSubscriber
        let payload = [UInt8](repeating: 1, count: 64)

        let baselineIDs = (0..<total).map { _ in ObjectID.random() }
        let baselineStart = ContinuousClock.now
        for id in baselineIDs { try client.createAndSeal(id, data: payload) }
        let baselineRate = Double(total) / (ContinuousClock.now - baselineStart).seconds
        try deleteAll(baselineIDs, client)

        let ids = (0..<total).map { _ in ObjectID.random() }
        let list = try writeIDs(ids.map(\.hex), tag: "fanout")
        defer { try? FileManager.default.removeItem(at: list) }
        let perProcess = (subscribers + processes - 1) / processes
        let children = try stride(from: 0, to: subscribers, by: perProcess).map { first in
            try ChildProcess(role: role, [socket, list.path, "\(perSubscriber)", "\(first)", "\(min(perProcess, subscribers - first))"])
        }
        let before = try client.statistics().subscriptions
        while try client.statistics().subscriptions < before + Int64(subscribers) { usleep(10_000) }

        let sealStart = MonotonicClock.nanoseconds()
        let start = ContinuousClock.now
        // Round-robin over subscribers, so that every seal goes to a different connection.
        for index in 0..<total {
            let subscriber = index % subscribers
            try client.createAndSeal(ids[subscriber * perSubscriber + index / subscribers], data: payload)
        }
        let producerRate = Double(total) / (ContinuousClock.now - start).seconds

        var delivered = 0
        var lost = 0
        var lastFinish = sealStart
        for child in children {
            for line in child.finish().split(separator: "\n") {
                let fields = line.split(separator: " ").compactMap { UInt64($0) }
                guard fields.count == 3 else { continue }
                delivered += Int(fields[0])
                lost += Int(fields[1])
                lastFinish = max(lastFinish, fields[2])
            }
        }
        try deleteAll(ids, client)
        return Outcome(
            subscribers: subscribers, perSubscriber: perSubscriber, baselineRate: baselineRate,
            producerRate: producerRate, deliverySeconds: Double(lastFinish - sealStart) / 1e9,
            delivered: delivered, lost: lost + (total - delivered - lost))
    }

    private static func deleteAll(_ ids: [ObjectID], _ client: PlasmaClient) throws {
        for start in stride(from: 0, to: ids.count, by: 10_000) {
            try client.delete(Array(ids[start..<min(ids.count, start + 10_000)]))
        }
    }

    /// A subscriber process: one connection per subscriber, each counting its K sealed events.
    /// Prints "delivered lost finish-ns" per subscriber.
    static func subscribersMain(_ arguments: [String]) async throws {
        let (socket, listPath) = (arguments[0], arguments[1])
        let (perSubscriber, first, count) = (Int(arguments[2])!, Int(arguments[3])!, Int(arguments[4])!)
        let ids = try String(contentsOfFile: listPath, encoding: .utf8).split(separator: "\n").map { ObjectID(hex: $0)! }
        let lines = try await withThrowingTaskGroup(of: String.self) { group in
            for subscriber in first..<(first + count) {
                let mine = Array(ids[(subscriber * perSubscriber)..<((subscriber + 1) * perSubscriber)])
                group.addTask {
                    let client = try AsyncPlasmaClient(socketPath: socket)
                    var (delivered, lost) = (0, 0)
                    for try await event in client.events(for: mine) {
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
        print(lines.joined(separator: "\n"))
    }
}
