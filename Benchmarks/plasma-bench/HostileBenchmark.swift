import Foundation
import Glibc
import PlasmaClient
import PlasmaCore
import PlasmaWire

/// `hostile` (issue 13's target): --hostile-connections connections, split over the selected attacks
/// (HostileAttack) and over --hostile-processes processes per attack, make the store hold what they
/// can, and hold it for --duration seconds, while one well-behaved client (HostileVictim) keeps
/// getting a sealed object. Measured: the store's RSS and RssAnon before, at the peak and after the
/// attackers have gone; the well-behaved gets' latency; what the store did to each attack.
///
/// Targets: peak RSS ≤ arena + client-state budget + 64 MiB, and get p99 ≤ 5 ms during the attack.
/// The budget is the store's `client_state_budget` statistic when it reports one, else
/// --client-state-budget; unknown counts as 0.
enum HostileBenchmark {
    static let rssSlack = 64 << 20
    static let p99Target = 5.0  // ms
    /// The well-behaved client's latency before the attack, for comparison.
    static let baselineSeconds: UInt32 = 2
    /// Bytes of one object in a list reply (Reply.swift).
    static let encodedObjectInfoSize = ObjectID.byteCount + 8 * 3 + 1 + 8 + 8 + 1

    struct Options {
        var socket: String
        var storePID: Int32
        var storeIsAlive: () -> Bool
        var attacks: [HostileAttack]
        var connections: Int
        var processesPerAttack: Int
        var seconds: Int
        var objects: Int
        var waitingGets: Int
        var zeroSizeObjects: Int
        /// --client-state-budget in bytes (given to a store the benchmark starts).
        var budgetFlag: Int?
        /// The store's RSS past which the attackers are killed, to spare the machine.
        var rssCeiling: Int
        /// The attacking processes' CPU scheduling class (`peer` is the target's definition).
        var attackerScheduling = AttackerScheduling.peer
    }

    /// A process's resident memory from /proc/PID/status: all of it (VmRSS, arena pages included)
    /// and the anonymous part (RssAnon: its heap).
    struct Memory {
        var rss = 0
        var rssAnon = 0

        init(rss: Int = 0, rssAnon: Int = 0) { (self.rss, self.rssAnon) = (rss, rssAnon) }

        init?(pid: Int32) {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
            func kibibytes(_ key: String) -> Int? {
                text.split(separator: "\n").first { $0.hasPrefix(key) }?
                    .split(separator: " ").compactMap { Int($0) }.first.map { $0 * 1024 }
            }
            guard let rss = kibibytes("VmRSS:"), let anon = kibibytes("RssAnon:") else { return nil }
            self.init(rss: rss, rssAnon: anon)
        }

        func peak(_ other: Memory) -> Memory { Memory(rss: max(rss, other.rss), rssAnon: max(rssAnon, other.rssAnon)) }
    }

    /// The store's loop passes during the attack (`stats` fields `loop_passes_over_*`, differences over
    /// the attack; the longest since the store started), beside the client's latency: a pass is how
    /// long a request arriving during it waits.
    struct Passes {
        var over1ms = 0
        var over5ms = 0
        var over20ms = 0
        var longestMilliseconds = 0.0
        /// `loop_pass_most_work_units` since the store started; nil for a store that doesn't count it.
        var mostWorkUnits: Int? = nil

        init?(_ before: StoreStatistics?, _ after: StoreStatistics?) {
            // 0: a store that doesn't time its passes (one that does has had a pass over 1 ms by the end of an attack).
            guard let before, let after, let longest = value(of: "loop_pass_longest_us", in: after), longest > 0 else { return nil }
            func delta(_ name: String) -> Int { (value(of: name, in: after) ?? 0) - (value(of: name, in: before) ?? 0) }
            (over1ms, over5ms, over20ms) = (delta("loop_passes_over_1ms"), delta("loop_passes_over_5ms"), delta("loop_passes_over_20ms"))
            longestMilliseconds = Double(longest) / 1_000
            mostWorkUnits = value(of: "loop_pass_most_work_units", in: after).flatMap { $0 > 0 ? $0 : nil }
        }
    }

    /// A thread's scheduler times (/proc/PID/task/TID/schedstat): on a core, and waiting for one (ready,
    /// in the run queue). Their differences over the attack tell work from waiting for a shared core.
    struct SchedulerTimes {
        var runNanoseconds = 0
        var waitNanoseconds = 0

        init(runNanoseconds: Int = 0, waitNanoseconds: Int = 0) {
            (self.runNanoseconds, self.waitNanoseconds) = (runNanoseconds, waitNanoseconds)
        }

        /// The main thread of `pid` (the store's loop, the well-behaved client's gets).
        init?(pid: Int32) {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/schedstat", encoding: .utf8) else { return nil }
            let fields = text.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            guard fields.count >= 2 else { return nil }
            (runNanoseconds, waitNanoseconds) = (fields[0], fields[1])
        }

        static func - (after: SchedulerTimes, before: SchedulerTimes) -> SchedulerTimes {
            SchedulerTimes(runNanoseconds: after.runNanoseconds - before.runNanoseconds,
                           waitNanoseconds: after.waitNanoseconds - before.waitNanoseconds)
        }
    }

    struct AttackResult {
        let attack: HostileAttack
        let connections: Int
        let processes: Int
        var tally = HostileAttack.Tally()
        /// Processes that reported no tally (died, or killed at the ceiling).
        var unreported = 0
    }

    struct Outcome {
        let seconds: Int
        let connections: Int
        let baseline: Memory
        let peak: Memory
        let end: Memory?
        let arenaSize: Int
        let budget: Int?
        let budgetSource: String
        let usedPeak: Int?
        let usedEnd: Int?
        let before: HostileVictim.Phase
        let during: HostileVictim.Phase
        /// `during`, split: while the attackers were setting up, and once every one was set up.
        let settingUp: HostileVictim.Phase
        let held: HostileVictim.Phase
        let attacks: [AttackResult]
        /// Seconds from the start of the attack until every attacker was set up; nil: not within the run.
        let readySeconds: Double?
        let aborted: Bool
        let ceiling: Int
        let attackerScheduling: AttackerScheduling
        /// Clients the store still counted beyond its idle ones when the end was measured.
        let clientsLeftAtEnd: Int
        /// The store or a process of the benchmark died, or something else broke: not a measurement.
        let crashes: [String]
        /// The store's loop passes during the attack; nil for a store that doesn't count them.
        var passes: Passes? = nil
        /// Scheduler times over the attack of the store's loop thread and the well-behaved client's.
        var storeThread: SchedulerTimes? = nil
        var victimThread: SchedulerTimes? = nil
        /// Targets missed: FAIL.
        var failures: [String] = []

        var targetRSS: Int { arenaSize + (budget ?? 0) + rssSlack }
        var passed: Bool { failures.isEmpty && crashes.isEmpty }
    }

    static func run(_ options: Options, monitor: PlasmaClient) throws -> Outcome {
        let statistic = { (name: String) -> Int? in
            let statistics = try? monitor.statistics()
            return statistics.flatMap { value(of: name, in: $0) }
        }
        // What the attack starts from: an object for the well-behaved client, and --hostile-objects
        // more for the Arrow subscribers' snapshot.
        let victimID = ObjectID.random()
        try monitor.createAndSeal(victimID, data: [UInt8](repeating: 9, count: smallObjectSize))
        let payload = [UInt8](repeating: 7, count: smallObjectSize)
        for start in stride(from: 0, to: options.objects, by: batchSize) {
            let batch = (start..<min(options.objects, start + batchSize)).map { _ in InlineObject(id: .random(), data: payload) }
            _ = try monitor.createAndSeal(batch: batch)
        }
        let before = try monitor.statistics()
        usleep(1_500_000)  // the idle store trims its heap after a second: measure what it holds
        guard let baseline = Memory(pid: options.storePID) else {
            throw BenchError.childFailed("hostile: cannot read /proc/\(options.storePID)/status (is the store on this machine?)")
        }
        let reported = value(of: "client_state_budget", in: before).flatMap { $0 > 0 ? $0 : nil }
        let budget = reported ?? options.budgetFlag
        let budgetSource = reported != nil ? "the store's stats" : options.budgetFlag != nil ? "--client-state-budget" : "unknown"

        let victim = try ChildProcess(role: HostileVictim.role, [options.socket, victimID.hex], interactive: true)
        guard victim.readLine() == "ready" else { throw BenchError.childFailed("hostile: the well-behaved client failed to connect") }
        sleep(baselineSeconds)
        try victim.signal()  // phase 1: the attack
        let statisticsAtStart = try? monitor.statistics()
        let (storeAtStart, victimAtStart) = (SchedulerTimes(pid: options.storePID), SchedulerTimes(pid: victim.pid))

        let assignments = plan(options, capacity: Int(before.capacity))
        let sampler = value(of: "client_state_used", in: before) == nil ? nil : UsageSampler(socket: options.socket)
        sampler?.start()
        let began = ContinuousClock.now
        let attackers = try assignments.map {
            LineCollector(try ChildProcess(
                role: HostileAttack.role, [options.socket] + $0.arguments + [options.attackerScheduling.rawValue], interactive: true))
        }
        var watch = Watch(peak: baseline)
        watch.follow(attackers, since: began, options) { try? victim.signal() }  // phase 2: every attacker set up
        let (peak, readySeconds, aborted) = (watch.peak, watch.readySeconds, watch.aborted)
        var crashes = watch.storeDied ? ["the store (pid \(options.storePID)) died during the attack"] : []
        let passes = Passes(statisticsAtStart, try? monitor.statistics())
        let storeThread = SchedulerTimes(pid: options.storePID).flatMap { now in storeAtStart.map { now - $0 } }
        let victimThread = SchedulerTimes(pid: victim.pid).flatMap { now in victimAtStart.map { now - $0 } }

        victim.closeInput()  // its phase lines: after the attack, before the attackers let go
        let victimLines = victim.finish().split(separator: "\n")
        let phases = victimLines.compactMap { HostileVictim.Phase(line: $0) }
        if phases.count != 4 { crashes.append("the well-behaved client reported \(phases.count) of 4 phases: \(victimLines.prefix(3))") }
        if let error = victimLines.first(where: { $0.hasPrefix("error ") }) {
            FileHandle.standardError.write(Data("hostile: the well-behaved client's first error: \(error.dropFirst(6))\n".utf8))
        }

        var results = resultsByAttack(assignments)
        for (assignment, attacker) in zip(assignments, attackers) {
            attacker.child.closeInput()
            let lines = attacker.waitForEnd()
            _ = attacker.child.finish()
            let index = results.firstIndex { $0.attack == assignment.attack }!
            for line in lines where line.hasPrefix("error ") { crashes.append("\(assignment.attack.rawValue): \(line)") }
            if let tally = lines.lazy.compactMap({ HostileAttack.Tally(line: $0[...]) }).first {
                results[index].tally = results[index].tally + tally
            } else {
                results[index].unreported += 1
                if !aborted { crashes.append("an \(assignment.attack.rawValue) process died without reporting") }
            }
        }
        let usedPeak = sampler?.stop()

        var end: Memory?
        var usedEnd: Int?
        var clientsLeft: Int?
        if options.storeIsAlive() {
            // The attackers have gone: wait (up to a minute: today's store may still be working through
            // what they sent) for the store to count them gone, then for its idle heap trim.
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline, let clients = try? monitor.statistics().clients {
                clientsLeft = Int(clients - before.clients)
                if clients <= before.clients { break }
                usleep(50_000)
            }
            usleep(1_500_000)
            end = Memory(pid: options.storePID)
            usedEnd = statistic("client_state_used")
        } else if crashes.isEmpty || !crashes[0].hasPrefix("the store") {
            crashes.append("the store (pid \(options.storePID)) died")
        }

        var outcome = Outcome(
            seconds: options.seconds, connections: options.connections, baseline: baseline, peak: peak, end: end,
            arenaSize: Int(before.arenaSize), budget: budget, budgetSource: budgetSource, usedPeak: usedPeak,
            usedEnd: usedEnd, before: phases.first ?? .init(), during: phases.count > 1 ? phases[1] : .init(),
            settingUp: phases.count > 2 ? phases[2] : .init(), held: phases.count > 3 ? phases[3] : .init(),
            attacks: results, readySeconds: readySeconds, aborted: aborted, ceiling: options.rssCeiling,
            attackerScheduling: options.attackerScheduling, clientsLeftAtEnd: max(0, clientsLeft ?? 0), crashes: crashes)
        (outcome.passes, outcome.storeThread, outcome.victimThread) = (passes, storeThread, victimThread)
        outcome.failures = failures(outcome)
        return outcome
    }

    /// The targets the outcome missed.
    private static func failures(_ outcome: Outcome) -> [String] {
        var failures: [String] = []
        if outcome.aborted {
            failures.append("the store's RSS passed the safety ceiling of \(mib(outcome.ceiling)) (--rss-ceiling): the attackers were killed")
        }
        if outcome.peak.rss > outcome.targetRSS {
            failures.append("peak RSS \(mib(outcome.peak.rss)) > target \(mib(outcome.targetRSS)) "
                + "(arena \(mib(outcome.arenaSize)) + budget \(mib(outcome.budget ?? 0)) + 64 MiB)")
        }
        if outcome.during.samples > 0, outcome.during.p99 > p99Target {
            failures.append(String(format: "well-behaved get p99 %.2f ms > %.0f ms", outcome.during.p99, p99Target))
        }
        if outcome.during.errors > 0 { failures.append("the well-behaved client had \(outcome.during.errors) failed gets") }
        if outcome.during.samples == 0 { failures.append("the well-behaved client completed no get during the attack") }
        return failures
    }

    /// The connections split evenly over the attacks, and each attack's over at most
    /// `processesPerAttack` processes.
    static func plan(_ options: Options, capacity: Int) -> [HostileAttack.Assignment] {
        let nativeClaim = WireLimits().maxPayload - 1024
        let arrowClaim = max(WireLimits().maxPayload, capacity + (1 << 20)) - 1024  // ServerConfiguration.arrowMaxPayload
        // unread-replies: lists enough for ~128 MiB of replies, from the objects the store will hold.
        let listed = max(1, options.objects + (options.attacks.contains(.zeroSizeObjects) ? options.zeroSizeObjects : 0))
        let listsPerConnection = min(100_000, max(4, (128 << 20) / (listed * encodedObjectInfoSize)))
        var assignments: [HostileAttack.Assignment] = []
        for (index, attack) in options.attacks.enumerated() {
            let connections = options.connections / options.attacks.count + (index < options.connections % options.attacks.count ? 1 : 0)
            let processes = min(options.processesPerAttack, connections)
            var assigned = 0  // connections given to this attack's earlier processes
            for process in 0..<processes {
                let share = connections / processes + (process < connections % processes ? 1 : 0)
                defer { assigned += share }
                var assignment = HostileAttack.Assignment(attack: attack, connections: share)
                switch attack {
                case .partialFrames: assignment.claimedBytes = nativeClaim
                case .arrowPartialFrames: assignment.claimedBytes = arrowClaim
                case .waitingGets: assignment.count = options.waitingGets
                case .arrowSubscribers: assignment.seals = process == 0
                case .zeroSizeObjects:  // in proportion to the share, adding up to the total exactly
                    assignment.count = options.zeroSizeObjects * (assigned + share) / connections
                        - options.zeroSizeObjects * assigned / connections
                case .unreadReplies: assignment.count = listsPerConnection
                }
                assignments.append(assignment)
            }
        }
        return assignments
    }

    private static func resultsByAttack(_ assignments: [HostileAttack.Assignment]) -> [AttackResult] {
        var results: [AttackResult] = []
        for assignment in assignments {
            if let index = results.firstIndex(where: { $0.attack == assignment.attack }) {
                results[index] = AttackResult(
                    attack: assignment.attack, connections: results[index].connections + assignment.connections,
                    processes: results[index].processes + 1)
            } else {
                results.append(AttackResult(attack: assignment.attack, connections: assignment.connections, processes: 1))
            }
        }
        return results
    }

    /// A statistic by its name in `StoreStatistics.fieldNames`; nil when this build doesn't know it.
    static func value(of name: String, in statistics: StoreStatistics) -> Int? {
        guard let index = StoreStatistics.fieldNames.firstIndex(of: name) else { return nil }
        let values = statistics.fieldValues
        return index < values.count ? Int(values[index]) : nil
    }

    static func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
}
