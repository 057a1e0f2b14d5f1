import Foundation
import Glibc
import PlasmaCore

/// The soak's client processes, one per slot, each read on its own thread. Keeps the tally of every
/// process that ever ran (a killed one counts with its last report) and what went wrong.
final class SoakFleet: @unchecked Sendable {
    // @unchecked: everything mutable is guarded by `lock`; `members` is only touched by the parent's thread.
    private final class Member: @unchecked Sendable {
        let slot: Int
        let child: ChildProcess
        let ended = DispatchSemaphore(value: 0)
        var latest = SoakTally()  // guarded by the fleet's lock
        var sawDone = false
        var killed = false
        init(slot: Int, child: ChildProcess) { (self.slot, self.child) = (slot, child) }
    }

    private let socket: String
    private let slots: Int
    private let seed: UInt64
    private var members: [Int: Member] = [:]
    private var generations: [Int: Int] = [:]
    private let lock = NSLock()
    private var finished = SoakTally()
    private var errorLines: [String] = []
    private var errorCount = 0
    private(set) var killed = 0
    private(set) var started = 0

    init(socket: String, slots: Int, seed: UInt64) {
        (self.socket, self.slots, self.seed) = (socket, slots, seed)
    }

    /// Every process's counts: the ended ones' final and the running ones' latest.
    var tally: SoakTally {
        lock.withLock {
            var total = finished
            for member in members.values { total.add(member.latest) }
            return total
        }
    }

    /// Unexpected things: client errors, clients that died on their own or hung (the first 20 of them).
    var errors: (count: Int, first: [String]) { lock.withLock { (errorCount, errorLines) } }

    var running: Int { members.count }

    func startAll() throws {
        for slot in 0..<slots { try start(slot) }
    }

    private func start(_ slot: Int) throws {
        let generation = generations[slot, default: 0]
        generations[slot] = generation + 1
        let child = try ChildProcess(
            role: SoakClient.role, [socket, "\(slot)", "\(slots)", "\(generation)", "\(seed)"], interactive: true)
        let member = Member(slot: slot, child: child)
        members[slot] = member
        started += 1
        let thread = Thread { [self] in
            while let line = member.child.readLine() {
                if let tally = SoakTally(line: line[...]) {
                    lock.withLock { member.latest = tally }
                } else if line == "done" {
                    lock.withLock { member.sawDone = true }
                } else if line.hasPrefix("error ") {
                    record("client \(slot): \(line.dropFirst(6))")
                }
            }
            member.ended.signal()
        }
        thread.start()
    }

    /// SIGKILLs the client in `slot`, whatever it is doing, and starts a new one in its place.
    func killAndReplace(_ slot: Int) throws {
        guard let member = members[slot] else { return }
        lock.withLock { member.killed = true }
        kill(member.child.pid, SIGKILL)
        retire(member, within: .seconds(10))
        killed += 1
        try start(slot)
    }

    /// Replaces clients that ended without being asked to (a crash): each is an error.
    func replaceEnded() throws {
        for member in members.values where member.ended.wait(timeout: .now()) == .success {
            member.ended.signal()  // retire waits for it again
            record("client \(member.slot) (pid \(member.child.pid)) exited on its own")
            retire(member, within: .seconds(1))
            try start(member.slot)
        }
    }

    /// Asks every client to stop (closes its stdin) and waits for all of them to exit; one that takes
    /// longer than `limit` is an error (a hang) and is killed.
    func stopAll(within limit: Duration) {
        for member in members.values { member.child.closeInput() }
        let deadline = DispatchTime.now() + .nanoseconds(Int(limit.clampedNanoseconds))
        for member in members.values.sorted(by: { $0.slot < $1.slot }) {
            if member.ended.wait(timeout: deadline) == .timedOut {
                record("client \(member.slot) (pid \(member.child.pid)) did not stop within \(limit): killed")
                lock.withLock { member.killed = true }
                kill(member.child.pid, SIGKILL)
            } else {
                member.ended.signal()
            }
            retire(member, within: .seconds(10))
            if !lock.withLock({ member.sawDone || member.killed }) {
                record("client \(member.slot) (pid \(member.child.pid)) ended without finishing")
            }
        }
    }

    /// Waits for the member's output to end, reaps it and moves its counts to `finished`.
    private func retire(_ member: Member, within limit: Duration) {
        _ = member.ended.wait(timeout: .now() + .nanoseconds(Int(limit.clampedNanoseconds)))
        _ = member.child.finish()
        lock.withLock { finished.add(member.latest) }
        members[member.slot] = nil
    }

    private func record(_ line: String) {
        lock.withLock {
            errorCount += 1
            if errorLines.count < 20 { errorLines.append(line) }
        }
    }
}
