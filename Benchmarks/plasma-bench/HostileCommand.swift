import ArgumentParser
import Foundation
import Glibc
import PlasmaClient
import PlasmaCore

/// `plasma-bench hostile`, alone: its own store of --hostile-memory (or the --socket store). Prints the
/// result and the verdict; exit status 0 on PASS, 3 when a target was missed (FAIL), 1 when the store or
/// a process of the benchmark died (CRASH), so that CI can tell a missed target from a crash.
extension BenchCommand {
    static let hostileFailStatus: Int32 = 3

    func hostileAttacks() throws -> [HostileAttack] {
        guard let attacks else { return HostileAttack.allCases }
        let names = attacks.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let chosen = try names.map { name in
            guard let attack = HostileAttack(rawValue: name) else {
                throw ValidationError("unknown attack '\(name)'; known: \(HostileAttack.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return attack
        }
        guard !chosen.isEmpty else { throw ValidationError("--attacks names no attack") }
        return HostileAttack.allCases.filter(chosen.contains)
    }

    func runHostile() throws {
        let budget = try clientStateBudget.map { try ByteCount.parse($0) }
        let store = try socket == nil
            ? LaunchedStore(
                memory: hostileMemory, maxClients: max(1024, hostileConnections + 64), tag: "hostile",
                extraArguments: clientStateBudget.map { ["--client-state-budget", $0] } ?? [])
            : nil
        defer { store?.stop() }
        let path = socket ?? store!.socketPath
        let monitor = try connect(path, startedStore: store)
        defer { monitor.close() }
        let storePID = try store?.pid ?? peerPID(path)
        let ceiling = try rssCeiling.map { try ByteCount.parse($0) } ?? Self.availableMemory() / 2
        let seconds = duration ?? 30
        let attacks = try hostileAttacks()
        guard let scheduling = AttackerScheduling(rawValue: attackerScheduling) else {
            throw ValidationError("--attacker-scheduling takes \(AttackerScheduling.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        announce("hostile (\(hostileConnections) connections: \(attacks.map(\.rawValue).joined(separator: ", ")); \(seconds) s; "
            + "\(socket == nil ? "own store of \(hostileMemory)" : "the --socket store"); attackers at scheduling class \(scheduling.rawValue); RSS ceiling \(HostileBenchmark.mib(ceiling)))")
        let options = HostileBenchmark.Options(
            socket: path, storePID: storePID, storeIsAlive: { store?.isRunning ?? (kill(storePID, 0) == 0) },
            attacks: attacks, connections: hostileConnections, processesPerAttack: hostileProcesses, seconds: seconds,
            objects: hostileObjects, waitingGets: waitingGets, zeroSizeObjects: zeroSizeObjects, budgetFlag: budget,
            rssCeiling: ceiling, attackerScheduling: scheduling)
        let outcome = try HostileBenchmark.run(options, monitor: monitor)
        let row = HostileBenchmark.row(outcome)
        print(json ? Report.json([row]) : Report.table([row], machine: Machine.describe(), store: path)
            + "\n" + HostileBenchmark.attackLines(outcome))
        fflush(nil)  // the result before the verdict on stderr
        FileHandle.standardError.write(Data((HostileBenchmark.verdict(outcome) + "\n").utf8))
        if !outcome.crashes.isEmpty { throw ExitCode.failure }
        if !outcome.failures.isEmpty { throw ExitCode(Self.hostileFailStatus) }
    }

    /// Connects like the other workloads (up to a minute: a large arena prefaults first), but gives up
    /// at once when the store we started has exited (e.g. a store that doesn't know
    /// --client-state-budget yet).
    private func connect(_ path: String, startedStore store: LaunchedStore?) throws -> PlasmaClient {
        for _ in 0..<600 {
            if let client = try? PlasmaClient(socketPath: path) { return client }
            if let store, !store.isRunning { throw BenchError.childFailed("hostile: the store exited at start (its message is above)") }
            usleep(100_000)
        }
        return try PlasmaClient(socketPath: path)
    }

    /// MemAvailable from /proc/meminfo (bytes); 1 GiB when it can't be read.
    static func availableMemory() -> Int {
        let text = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("MemAvailable:") }
        return line.flatMap { $0.split(separator: " ").compactMap { Int($0) }.first }.map { $0 * 1024 } ?? 1 << 30
    }
}
