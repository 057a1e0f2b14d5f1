import PlasmaClient
import PlasmaCore
import PlasmaPosix

/// `put-pipelined`: one `AsyncPlasmaClient` keeps a window of createAndSeal requests (64 B) in flight on
/// one connection: a new request goes out as each reply comes back. It runs in a child process because
/// the runner is synchronous; the child does the warm-up and the repetitions and prints one rate per line.
enum PipelinedBenchmark {
    static let role = "__put-pipelined"
    static let objectsPerRepetition = 20_000

    static func run(socket: String, window: Int, repetitions: Int) throws -> Row {
        let child = try ChildProcess(role: role, [socket, "\(window)", "\(repetitions)"])
        let rates = child.finish().split(whereSeparator: \.isNewline).compactMap { Double($0) }.sorted()
        guard rates.count == repetitions else {
            throw BenchError.waiterFailed("put-pipelined: the client process printed \(rates.count) of \(repetitions) rates")
        }
        let median = rates[rates.count / 2]
        return Row(
            name: "put-pipelined", figure: "\(Report.format(median)) objects/s",
            spread: "\(Report.format(rates.first!)) … \(Report.format(rates.last!))",
            what: "createAndSeal 64 B from the async client, \(window) requests in flight on one connection",
            json: [("unit", "\"objects/s\""), ("median", "\(median)"), ("min", "\(rates.first!)"),
                   ("max", "\(rates.last!)"), ("repetitions", "\(rates.count)"), ("window", "\(window)")])
    }

    /// The child: arguments socket, window, repetitions. A warm-up of a quarter, then each repetition.
    static func clientMain(_ arguments: [String]) async throws {
        let (window, repetitions) = (Int(arguments[1])!, Int(arguments[2])!)
        let client = try AsyncPlasmaClient(socketPath: arguments[0])
        defer { client.shutdown() }
        _ = try await putObjects(objectsPerRepetition / 4, window: window, client: client)
        for _ in 0..<repetitions {
            let seconds = try await putObjects(objectsPerRepetition, window: window, client: client)
            print(Double(objectsPerRepetition) / seconds)
        }
    }

    /// Seconds to put `count` objects with at most `window` requests outstanding.
    static func putObjects(_ count: Int, window: Int, client: AsyncPlasmaClient) async throws -> Double {
        let data = [UInt8](repeating: 7, count: smallObjectSize)
        let start = MonotonicClock.nanoseconds()
        try await withThrowingTaskGroup(of: Void.self) { group in
            var sent = 0
            while sent < min(window, count) {
                group.addTask { try await client.createAndSeal(.random(), data: data) }
                sent += 1
            }
            while try await group.next() != nil {
                guard sent < count else { continue }
                group.addTask { try await client.createAndSeal(.random(), data: data) }
                sent += 1
            }
        }
        return Double(MonotonicClock.nanoseconds() - start) / 1e9
    }
}
