import Foundation
import PlasmaClient
import PlasmaCore
import PlasmaPosix

/// The `hostile` workload's one well-behaved client, in a process of its own: get + release of one
/// sealed 64 B object, one pair every 500 µs, timing each pair (a release is a round trip too). Each byte on stdin starts the next
/// phase (0: before the attack, 1: the attackers setting up, 2: every attacker set up); at EOF it prints
/// `phase N gets p50-ns p99-ns max-ns errors` for 0, for 1 (the whole attack: set-up and held), and for
/// the attack's two parts as 2 and 3, then the first error, if any.
///
/// The percentiles are corrected for coordinated omission: a get that took L > 500 µs also counts
/// the gets a client on a fixed schedule would have sent meanwhile, with latencies L - 500 µs,
/// L - 1 ms, ... (as HdrHistogram's expected-interval recording does). Otherwise a 3 s stall of the
/// store is one slow sample among thousands and hides below p99.
enum HostileVictim {
    static let role = "__hostile-victim"
    static let pause: useconds_t = 500

    struct Phase {
        var samples = 0
        var p50 = 0.0, p99 = 0.0, max = 0.0  // milliseconds
        var errors = 0

        init() {}

        init?(line: Substring) {
            let fields = line.split(separator: " ")
            guard fields.count == 7, fields[0] == "phase", let samples = Int(fields[2]), let p50 = Double(fields[3]),
                  let p99 = Double(fields[4]), let max = Double(fields[5]), let errors = Int(fields[6]) else { return nil }
            (self.samples, self.p50, self.p99, self.max, self.errors) = (samples, p50 / 1e6, p99 / 1e6, max / 1e6, errors)
        }
    }

    static func main(_ arguments: [String]) throws {
        let (socket, id) = (arguments[0], ObjectID(hex: arguments[1])!)
        let phase = PhaseSwitch()
        let client = try PlasmaClient(socketPath: socket)
        ChildSignal.emit("ready")
        Thread { phase.follow() }.start()
        var latencies: [[UInt64]] = [[], [], []]
        var gets = [0, 0, 0]
        var errors = [0, 0, 0]
        var firstError: String?
        while let current = phase.current {
            let start = MonotonicClock.nanoseconds()
            do {
                guard let buffer = try client.get(id, timeout: .no) else { throw BenchError.missing }
                try buffer.release()
                let end = MonotonicClock.nanoseconds()
                record(end - start, into: &latencies[min(current, 2)])
                gets[min(current, 2)] += 1
            } catch {
                errors[min(current, 2)] += 1
                firstError = firstError ?? "\(error)"
                usleep(10_000)  // a store that cut us off: don't spin on errors
            }
            usleep(pause)
        }
        // Reported phases: before, the whole attack, its set-up, its held part.
        let reported = [(0, [0]), (1, [1, 2]), (2, [1]), (3, [2])]
        for (number, parts) in reported {
            let sorted = parts.flatMap { latencies[$0] }.sorted()
            let figures = sorted.isEmpty ? "0 0 0" : "\(percentile(sorted, 0.5)) \(percentile(sorted, 0.99)) \(sorted.last!)"
            print("phase \(number) \(parts.map { gets[$0] }.reduce(0, +)) \(figures) \(parts.map { errors[$0] }.reduce(0, +))")
        }
        if let firstError { print("error \(firstError.replacingOccurrences(of: "\n", with: " "))") }
    }

/// Adds `latency`, and the latencies of the gets a client on a fixed schedule would have had to send
    /// while this one waited.
    private static func record(_ latency: UInt64, into samples: inout [UInt64]) {
        samples.append(latency)
        let interval = UInt64(pause) * 1000
        var missed = latency
        while missed > 2 * interval {
            missed -= interval
            samples.append(missed)
        }
    }
}

/// The phase the parent has signalled so far; nil once it closed our stdin.
private final class PhaseSwitch: @unchecked Sendable {
    private let lock = NSLock()
    private var phase: Int? = 0

    var current: Int? { lock.withLock { phase } }

    func follow() {
        while ChildSignal.wait() { lock.withLock { phase = phase.map { $0 + 1 } } }
        lock.withLock { phase = nil }
    }
}
