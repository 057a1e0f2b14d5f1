import Foundation
import Glibc
import PlasmaClient
import PlasmaToolSupport

/// The attack's watch: every 50 ms, the store's memory (peak), whether it lives, whether the
/// attackers are set up; it kills them all when the store's RSS passes the ceiling.
struct Watch {
    var peak: HostileBenchmark.Memory
    var readySeconds: Double?
    var aborted = false
    var storeDied = false

    /// `settled` runs once, when every attacker has reported that it is set up.
    mutating func follow(
        _ attackers: [LineCollector], since began: ContinuousClock.Instant, _ options: HostileBenchmark.Options,
        settled: () -> Void
    ) {
        var progress = 0.0
        while true {
            let elapsed = (ContinuousClock.now - began).inSeconds
            guard elapsed < Double(options.seconds) else { return }
            guard options.storeIsAlive() else {
                storeDied = true
                return
            }
            if let now = HostileBenchmark.Memory(pid: options.storePID) { peak = peak.peak(now) }
            if peak.rss > options.rssCeiling {
                aborted = true
                for attacker in attackers { kill(attacker.child.pid, SIGKILL) }
                return
            }
            if readySeconds == nil, attackers.allSatisfy(\.isReady) {
                readySeconds = elapsed
                settled()
            }
            if elapsed >= progress {
                FileHandle.standardError.write(Data(String(
                    format: "hostile: %3.0f s, store RSS %@ (RssAnon %@), %d of %d attacker processes set up\n",
                    elapsed, HostileBenchmark.mib(peak.rss), HostileBenchmark.mib(peak.rssAnon),
                    attackers.filter(\.isReady).count, attackers.count).utf8))
                progress += 5
            }
            usleep(50_000)
        }
    }
}

/// Reads an attacker's output on a thread of its own, so that the monitor loop never blocks on it.
final class LineCollector: @unchecked Sendable {
    let child: ChildProcess
    private let condition = NSCondition()
    private var lines: [String] = []
    private var ended = false

    init(_ child: ChildProcess) {
        self.child = child
        Thread { [self] in
            while let line = self.child.readLine() {
                condition.withLock {
                    lines.append(line)
                    condition.broadcast()
                }
            }
            condition.withLock {
                ended = true
                condition.broadcast()
            }
        }.start()
    }

    var isReady: Bool { condition.withLock { lines.contains("ready") } }

    /// Every line, once the child closed its output.
    func waitForEnd() -> [String] {
        condition.withLock {
            while !ended { condition.wait() }
            return lines
        }
    }
}

/// Polls the store's `client_state_used` on its own connection every 200 ms and keeps the peak.
final class UsageSampler: @unchecked Sendable {
    private let socket: String
    private let lock = NSLock()
    private var running = true
    private var peak = 0
    private let done = DispatchSemaphore(value: 0)

    init(socket: String) { self.socket = socket }

    func start() {
        Thread { [self] in
            defer { done.signal() }
            guard let client = try? PlasmaClient(socketPath: socket) else { return }
            defer { client.close() }
            while lock.withLock({ running }) {
                if let statistics = try? client.statistics(), let used = HostileBenchmark.value(of: "client_state_used", in: statistics) {
                    lock.withLock { peak = max(peak, used) }
                }
                usleep(200_000)
            }
        }.start()
    }

    /// Stops sampling; the peak seen.
    func stop() -> Int {
        lock.withLock { running = false }
        done.wait()
        return lock.withLock { peak }
    }
}
