import Foundation
import Glibc
import PlasmaClient
import PlasmaCore
import PlasmaToolSupport

/// `soak`: --clients processes (`SoakClient`) keep the store busy with a mixed load for --duration
/// seconds, while one of them, picked at random every 0.5 to 3 s, is SIGKILLed and replaced. The
/// store's anonymous RSS and open descriptors are measured twice in the same state, with no soak client
/// connected: after the warm-up (the first tenth of the duration, at least 20 s but at most half; the
/// clients are stopped for it and a new set started) and at the end.
///
/// Why 20 s: malloc keeps what the store frees, so its idle RSS is the high-water mark of its busy heap
/// (seen with gdb's mallinfo2 at 32 clients: ~0.9 MiB in use, ~4.6 MiB free but kept), and that mark
/// settles after 10 to 20 s of this load.
///
/// The soak fails when the store dies; a client meets an unexpected outcome, dies on its own or hangs;
/// the store still counts clients, waits, subscriptions, unsealed or referenced objects once every
/// client has gone; or RSS or descriptors grew by more than 5 % (with a floor: 256 KiB of RSS and one
/// descriptor are always allowed, since 5 % of the idle store's ~2 MiB and ~10 descriptors is below
/// their noise).
enum SoakBenchmark {
    /// What the store looks like with no soak client connected.
    struct Snapshot {
        let rssAnon: Int
        let descriptors: Int
        let statistics: StoreStatistics
    }

    struct Outcome {
        let clients: Int
        let seconds: Double
        let warmupSeconds: Double
        let tally: SoakTally
        let processesStarted: Int
        let killed: Int
        let start: Snapshot?
        let end: Snapshot?
        let errorCount: Int
        let errors: [String]
        /// Why the soak failed; empty when it passed.
        let failures: [String]
    }

    static let progressInterval = 10.0
    static let growthLimit = 0.05

    static func run(
        socket: String, storePID: Int32, storeIsAlive: @escaping () -> Bool, monitor: PlasmaClient,
        seconds: Int, clients: Int, seed: UInt64
    ) throws -> Outcome {
        var generator = SplitMix64(seed: seed)
        let idle = try monitor.statistics()  // other clients of a --socket store, and our monitor
        let fleet = SoakFleet(socket: socket, slots: clients, seed: seed)
        let began = ContinuousClock.now
        let warmup = min(Double(seconds) / 2, max(20, Double(seconds) / 10))
        var failures: [String] = []
        var nextKill = 0.5 + 2.5 * unit(&generator)
        var nextProgress = progressInterval
        var start: Snapshot?
        var end: Snapshot?
        var paused = 0.0  // time spent stopping, measuring and restarting after the warm-up

        /// Runs the load until `until` seconds of load have passed; false when the store died.
        func drive(until: Double) throws -> Bool {
            while true {
                let elapsed = (ContinuousClock.now - began).inSeconds - paused
                guard elapsed < until else { return true }
                guard storeIsAlive() else { return false }
                try fleet.replaceEnded()
                if elapsed >= nextKill {
                    try fleet.killAndReplace(Int(generator.next() % UInt64(clients)))
                    nextKill = elapsed + 0.5 + 2.5 * unit(&generator)
                }
                if elapsed >= nextProgress {
                    progress(elapsed: elapsed, fleet: fleet, storePID: storePID)
                    nextProgress += progressInterval
                }
                usleep(50_000)
            }
        }

        /// Stops every client and takes a snapshot once the store has let go of them.
        func quiesce(_ when: String) throws -> Snapshot? {
            fleet.stopAll(within: .seconds(60))
            guard storeIsAlive() else { return nil }
            let (statistics, leftovers) = try settle(monitor, idle: idle)
            failures += leftovers.map { "\(when): \($0)" }
            // After a second with no requests the store hands its freed heap back (EventLoop.onIdle,
            // plasma_heap_trim); measure after that, so RSS shows what it holds, not malloc's high-water mark.
            usleep(1_500_000)
            guard let rss = anonymousRSS(pid: storePID), let descriptors = openDescriptors(pid: storePID) else {
                failures.append("cannot read /proc/\(storePID) (is the store on this machine?)")
                return nil
            }
            return Snapshot(rssAnon: rss, descriptors: descriptors, statistics: statistics)
        }

        try fleet.startAll()
        var alive = try drive(until: warmup)
        if alive {
            let pause = ContinuousClock.now
            start = try quiesce("after the warm-up")
            try fleet.startAll()
            paused += (ContinuousClock.now - pause).inSeconds
            alive = try drive(until: Double(seconds))
        }
        let loaded = (ContinuousClock.now - began).inSeconds - paused
        if alive { end = try quiesce("at the end") } else { fleet.stopAll(within: .seconds(5)) }
        if !storeIsAlive() { failures.append("the store (pid \(storePID)) died") }
        let tally = fleet.tally
        let errors = fleet.errors
        if tally[.unexpected] > 0 || errors.count > 0 {
            failures.append("\(tally[.unexpected]) unexpected outcomes in clients, \(errors.count) error reports")
        }
        if let start, let end {
            // 5 %, but never less than 256 KiB: since the store trims its heap when idle its RSS is ~2 MiB,
            // and 5 % of that (~100 KiB) is below the heap's page-level noise (a clean 60 s CI run saw
            // 2.1 → 2.2 MiB with the same number of objects). A leak still shows: the store without the
            // two leak fixes grew 1 MiB in 60 s.
            let rssSlack = max(256 * 1024, Int(Double(start.rssAnon) * growthLimit))
            if end.rssAnon > start.rssAnon + rssSlack {
                failures.append("store RssAnon grew \(mib(start.rssAnon)) → \(mib(end.rssAnon)), more than max(5 %, 256 KiB)")
            }
            if end.descriptors > start.descriptors + max(1, Int(Double(start.descriptors) * growthLimit)) {
                failures.append("store descriptors grew \(start.descriptors) → \(end.descriptors)")
            }
        }
        return Outcome(
            clients: clients, seconds: loaded, warmupSeconds: warmup, tally: tally,
            processesStarted: fleet.started, killed: fleet.killed, start: start, end: end,
            errorCount: errors.count, errors: errors.first, failures: failures)
    }

    /// Waits (up to 10 s) until the store counts no more clients, waits or subscriptions than before the
    /// soak; then checks that no object is left unsealed or referenced. Returns what it found wrong.
    private static func settle(_ monitor: PlasmaClient, idle: StoreStatistics) throws -> (StoreStatistics, [String]) {
        let deadline = ContinuousClock.now + .seconds(10)
        var statistics = try monitor.statistics()
        func drained(_ s: StoreStatistics) -> Bool {
            s.clients <= idle.clients && s.pendingGets <= idle.pendingGets && s.pendingCreates <= idle.pendingCreates
                && s.subscriptions <= idle.subscriptions
        }
        while !drained(statistics), ContinuousClock.now < deadline {
            usleep(20_000)
            statistics = try monitor.statistics()
        }
        usleep(200_000)  // let the store finish freeing what the last disconnects left
        statistics = try monitor.statistics()
        var problems: [String] = []
        if !drained(statistics) {
            problems.append("10 s after every client exited the store still counts \(statistics.clients) clients, "
                + "\(statistics.pendingGets) waiting gets, \(statistics.pendingCreates) waiting creates, "
                + "\(statistics.subscriptions) subscriptions (before the soak: \(idle.clients), \(idle.pendingGets), "
                + "\(idle.pendingCreates), \(idle.subscriptions))")
        }
        if statistics.createdObjects > idle.createdObjects {
            problems.append("\(statistics.createdObjects) objects still unsealed with their creators gone")
        }
        let referenced = statistics.sealedObjects - statistics.evictableObjects
        if referenced > idle.sealedObjects - idle.evictableObjects {
            problems.append("\(referenced) sealed objects still referenced (or delete-pending) with every client gone")
        }
        return (statistics, problems)
    }

    private static func progress(elapsed: Double, fleet: SoakFleet, storePID: Int32) {
        let operations = fleet.tally[.operations]
        let rss = anonymousRSS(pid: storePID).map(mib) ?? "?"
        let descriptors = openDescriptors(pid: storePID).map(String.init) ?? "?"
        FileHandle.standardError.write(Data(String(
            format: "soak: %4.0f s, %@ ops (%@ ops/s), store RssAnon %@, %@ fds, %d clients, %d killed\n",
            elapsed, "\(operations)", Report.format(Double(operations) / elapsed), rss, descriptors, fleet.running,
            fleet.killed).utf8))
    }

    static func row(_ outcome: Outcome, seed: UInt64) -> Row {
        let tally = outcome.tally
        let rate = Double(tally[.operations]) / outcome.seconds
        let (start, end) = (outcome.start, outcome.end)
        let rss = start.flatMap { start in end.map { "RSS \(mib(start.rssAnon)) → \(mib($0.rssAnon))" } } ?? "RSS ?"
        let fds = start.flatMap { start in end.map { "fds \(start.descriptors) → \($0.descriptors)" } } ?? "fds ?"
        let expected = SoakCounter.expectedKinds.map { "\($0.name) \(tally[$0])" }.joined(separator: ", ")
        var json: [(String, String)] = [
            ("unit", "\"ops/s\""), ("rate", "\(rate)"), ("operations", "\(tally[.operations])"),
            ("seconds", "\(outcome.seconds)"), ("warmup_seconds", "\(outcome.warmupSeconds)"),
            ("clients", "\(outcome.clients)"), ("seed", "\(seed)"),
            ("processes_started", "\(outcome.processesStarted)"), ("killed", "\(outcome.killed)"),
            ("passed", "\(outcome.failures.isEmpty)"),
            ("failures", "[" + outcome.failures.map(Report.jsonString).joined(separator: ",") + "]"),
            ("errors", "[" + outcome.errors.map(Report.jsonString).joined(separator: ",") + "]"),
        ]
        for (label, snapshot) in [("start", start), ("end", end)] {
            json.append(("rss_anon_\(label)", snapshot.map { "\($0.rssAnon)" } ?? "null"))
            json.append(("fds_\(label)", snapshot.map { "\($0.descriptors)" } ?? "null"))
            json.append(("objects_\(label)", snapshot.map { "\($0.statistics.sealedObjects)" } ?? "null"))
        }
        json.append(("evicted_objects", end.map { "\($0.statistics.evictedObjects)" } ?? "null"))
        json += SoakCounter.operationKinds.map { ($0.name, "\(tally[$0])") }
        json += SoakCounter.expectedKinds.map { ($0.name, "\(tally[$0])") }
        json.append(("unexpected", "\(tally[.unexpected])"))
        return Row(
            name: "soak", figure: "\(Report.format(rate)) ops/s", spread: "\(rss), \(fds)",
            what: "\(outcome.failures.isEmpty ? "PASSED" : "FAILED"): \(tally[.operations]) ops in "
                + String(format: "%.0f s", outcome.seconds) + " by \(outcome.clients) client processes (seed \(seed)), "
                + "\(outcome.killed) SIGKILLed and replaced, \(tally[.reconnect]) reconnects; "
                + "store idle after the warm-up → at the end: "
                + "\(start.map { "\($0.statistics.sealedObjects)" } ?? "?") → \(end.map { "\($0.statistics.sealedObjects)" } ?? "?") objects, "
                + "\(end.map { "\($0.statistics.evictedObjects)" } ?? "?") evicted in all; "
                + "expected refusals: \(expected); unexpected: \(tally[.unexpected])",
            json: json)
    }

    /// The operation counts, one line, for the text report.
    static func operationsLine(_ outcome: Outcome) -> String {
        "soak operations: " + SoakCounter.operationKinds.map { "\($0.name) \(outcome.tally[$0])" }.joined(separator: ", ")
    }

    private static func unit(_ generator: inout SplitMix64) -> Double { Double(generator.next() >> 11) * 0x1p-53 }

    private static func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

}

/// Open descriptors of a process: the entries of /proc/PID/fd.
func openDescriptors(pid: Int32) -> Int? {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
}
