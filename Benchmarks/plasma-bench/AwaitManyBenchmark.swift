import Foundation
import PlasmaClient
import PlasmaCore
import PlasmaPosix
import PlasmaToolSupport

/// `await-many`: 10,000 tasks in another process, each awaiting a different object on one connection.
/// Times from the first seal until the last task has resumed, against the same seals with nobody
/// waiting (same invocation).
enum AwaitManyBenchmark {
    static let role = "__await-many"

    struct Outcome {
        let count: Int
        let baselineSeconds: Double
        let awaitedSeconds: Double
        let resumed: Int
    }

    static func run(socket: String, count: Int, client: PlasmaClient) throws -> Outcome {
        let payload = [UInt8](repeating: 1, count: 64)
        let baselineIDs = (0..<count).map { _ in ObjectID.random() }
        let baselineStart = ContinuousClock.now
        for id in baselineIDs { try client.createAndSeal(id, data: payload) }
        let baselineSeconds = (ContinuousClock.now - baselineStart).inSeconds
        try client.delete(baselineIDs)

        let ids = (0..<count).map { _ in ObjectID.random() }
        let list = try writeIDs(ids.map(\.hex), tag: "await-many")
        defer { try? FileManager.default.removeItem(at: list) }
        let before = try client.statistics().pendingGets
        let waiter = try ChildProcess(role: role, [socket, list.path])
        while try client.statistics().pendingGets < before + Int64(count) { usleep(10_000) }

        let start = MonotonicClock.nanoseconds()
        for id in ids { try client.createAndSeal(id, data: payload) }
        let fields = waiter.finish().split(whereSeparator: \.isWhitespace).compactMap { UInt64($0) }
        try client.delete(ids)
        guard fields.count == 2 else { throw BenchError.waiterFailed("await-many waiter printed nothing usable") }
        return Outcome(
            count: count, baselineSeconds: baselineSeconds, awaitedSeconds: Double(fields[1] - start) / 1e9,
            resumed: Int(fields[0]))
    }

    /// The waiter: one task per id on one AsyncPlasmaClient; prints "resumed finish-ns". The buffers are
    /// kept until the clock is read, so the figure is the awaits' (their releases follow after).
    static func waiterMain(_ arguments: [String]) async throws {
        let client = try AsyncPlasmaClient(socketPath: arguments[0])
        let ids = try String(contentsOfFile: arguments[1], encoding: .utf8).split(separator: "\n").map { ObjectID(hex: $0)! }
        let buffers = try await withThrowingTaskGroup(of: ObjectBuffer.self) { group in
            for id in ids {
                group.addTask {
                    guard let buffer = try await client.get(id) else { throw BenchError.missing }
                    return buffer
                }
            }
            return try await group.reduce(into: [ObjectBuffer]()) { $0.append($1) }
        }
        let finished = MonotonicClock.nanoseconds()
        print("\(buffers.count) \(finished)")
    }
}
