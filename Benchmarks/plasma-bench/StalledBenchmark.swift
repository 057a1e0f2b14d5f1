import Foundation
import PlasmaClient
import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// `stalled`: one subscriber to everything that never reads, while a producer seals (and deletes) N
/// objects. Measures the store's anonymous RSS before and after (its bounded event queue is all that
/// may grow) and what a healthy subscriber to everything, in another process, received.
enum StalledBenchmark {
    static let role = "__healthy-subscriber"

    struct Outcome {
        let seals: Int
        let rssGrowth: Int
        let healthyDelivered: Int
        let healthyExpected: Int
        let droppedForStalled: Int64
    }

    static func run(socket: String, storePID: Int32, seals: Int, client: PlasmaClient) throws -> Outcome {
        // Store-wide counts before: an earlier workload's subscribers may still be leaving (fanout's
        // thousand), so wait until the count holds still, then count our two subscriptions and the drops
        // from there. Otherwise the seals could start before the healthy subscriber is subscribed.
        var before = try client.statistics()
        for _ in 0..<300 {
            usleep(100_000)
            let now = try client.statistics()
            if now.subscriptions == before.subscriptions { break }
            before = now
        }
        // The stalled subscriber: subscribes to everything over a raw socket, then never reads again.
        let stalled = try UnixSocket.connect(path: socket)
        defer { stalled.close() }
        var writer = ByteWriter()
        Request.subscribe(subscriptionID: 1, filter: .all).encode(requestID: 1, into: &writer)
        try writer.buffer.withUnsafeBytes { try stalled.writeAll($0) }

        let expected = 2 * seals  // a sealed and a deleted event per object
        let healthy = try ChildProcess(role: role, [socket, "\(expected)"])
        while try client.statistics().subscriptions < before.subscriptions + 2 { usleep(10_000) }
        let rssBefore = anonymousRSS(pid: storePID) ?? 0

        let payload = [UInt8](repeating: 1, count: 64)
        let batch = 1000
        var progress = ProgressLine(total: seals, label: "stalled")
        // Flow control: the producer stays within `window` events of what the healthy subscriber reports
        // having read, so that a reader that keeps up loses nothing (at full speed the producer makes
        // ~400K events/s, more than any one reader takes). The stalled one gets no such courtesy.
        let window = 60_000  // ~3.5 MB of event frames, well inside the default 8 MiB --client-buffer
        var healthySeen = 0
        for start in stride(from: 0, to: seals, by: batch) {
            let objects = (start..<min(seals, start + batch)).map { _ in InlineObject(id: .random(), data: payload) }
            _ = try client.createAndSeal(batch: objects)
            try client.delete(objects.map(\.id))
            progress.update(start + objects.count)
            while 2 * (start + objects.count) - healthySeen > window,
                  let line = healthy.readLine(), let seen = Int(line.dropFirst("progress ".count)) {
                healthySeen = seen
            }
        }
        progress.finish()
        let rssAfter = anonymousRSS(pid: storePID) ?? 0
        let last = healthy.finish().split(separator: "\n").last { !$0.hasPrefix("progress") }
        let delivered = Int(last?.split(separator: " ").first.flatMap { Int($0) } ?? 0)
        return Outcome(
            seals: seals, rssGrowth: rssAfter - rssBefore, healthyDelivered: delivered, healthyExpected: expected,
            droppedForStalled: try client.statistics().eventsDropped - before.eventsDropped)
    }

    /// The healthy subscriber: counts events until it has `expected` of them (or overflows); prints
    /// "progress N" every 10,000 events (the producer's flow control) and then "received lost".
    static func healthyMain(_ arguments: [String]) async throws {
        let client = try AsyncPlasmaClient(socketPath: arguments[0])
        let expected = Int(arguments[1])!
        var (received, lost, reported) = (0, 0, 0)
        for try await event in client.allEvents() {
            if case .overflow(let dropped) = event { lost += dropped } else { received += 1 }
            if (received + lost) / 10_000 > reported {  // an overflow marker may jump several at once
                reported = (received + lost) / 10_000
                print("progress \(received + lost)")
                fflush(nil)
            }
            if received + lost >= expected { break }
        }
        print("\(received) \(lost)")
    }
}

/// A one-line progress indication on stderr for long runs (only when stderr is a terminal).
struct ProgressLine {
    let total: Int
    let label: String
    private var lastPercent = -1
    private let isTerminal = isatty(2) == 1

    init(total: Int, label: String) {
        self.total = total
        self.label = label
    }

    mutating func update(_ done: Int) {
        let percent = total == 0 ? 100 : done * 100 / total
        guard isTerminal, percent != lastPercent else { return }
        lastPercent = percent
        FileHandle.standardError.write(Data("\r\(label): \(percent)%".utf8))
    }

    func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
