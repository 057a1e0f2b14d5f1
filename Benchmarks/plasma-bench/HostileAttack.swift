import Foundation
import PlasmaClient
import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// The attacks of the `hostile` workload (issue 13): each makes the store hold client state that no
/// object accounts for. One child process runs one attack over its share of the connections.
enum HostileAttack: String, CaseIterable {
    /// Native frame header claiming just under the 64 MiB payload limit, 15/16 of the payload, then silence.
    case partialFrames = "partial-frames"
    /// The same in the Arrow dialect, whose limit is the store's capacity + 1 MiB.
    case arrowPartialFrames = "arrow-partial-frames"
    /// Native gets (timeout: forever), each of 65,536 ids that never exist, up to --waiting-gets per connection.
    case waitingGets = "waiting-gets"
    /// Arrow subscribers that never read their notification socket, while objects keep being sealed.
    case arrowSubscribers = "arrow-subscribers"
    /// createAndSeal batches of 0-byte objects with fresh ids, up to --zero-size-objects in all.
    case zeroSizeObjects = "zero-size-objects"
    /// list requests sent without ever reading a reply: as many per connection as make ~128 MiB of
    /// replies (twice what today's store queues for one client), from the objects expected in the store.
    case unreadReplies = "unread-replies"

    static let role = "__hostile"

    /// What one attacker process is told: its attack and share, and the figures it needs.
    struct Assignment {
        var attack: HostileAttack
        var connections: Int
        /// Payload length a partial frame claims (native or Arrow, by attack).
        var claimedBytes = 0
        /// waiting-gets: gets per connection; zero-size-objects: objects for this process; unread-replies:
        /// list requests per connection.
        var count = 0
        /// arrow-subscribers: this process also seals objects while its subscribers don't read.
        var seals = false

        var arguments: [String] {
            [attack.rawValue, "\(connections)", "\(claimedBytes)", "\(count)", seals ? "seal" : "-"]
        }

        init(attack: HostileAttack, connections: Int, claimedBytes: Int = 0, count: Int = 0, seals: Bool = false) {
            (self.attack, self.connections, self.claimedBytes, self.count, self.seals) =
                (attack, connections, claimedBytes, count, seals)
        }

        init?(_ arguments: ArraySlice<String>) {
            let fields = Array(arguments)
            guard fields.count == 5, let attack = HostileAttack(rawValue: fields[0]), let connections = Int(fields[1]),
                  let claimed = Int(fields[2]), let count = Int(fields[3]) else { return nil }
            self.init(attack: attack, connections: connections, claimedBytes: claimed, count: count, seals: fields[4] == "seal")
        }
    }

    /// What an attacker process reports at the end, one line: `result key=value ...`.
    struct Tally {
        var opened = 0
        var connectFailed = 0
        /// Connections the store had closed by the end (refused at connect or disconnected later; for
        /// arrow-subscribers, also notification sockets it closed).
        var closedByStore = 0
        /// Connections the store had not taken the whole attack from by the end of the run.
        var stalled = 0
        /// Requests the store answered with an error (a limit).
        var refusedRequests = 0
        /// Requests (or frames) sent, and for zero-size-objects the objects created.
        var sent = 0

        var line: String {
            "result opened=\(opened) connect-failed=\(connectFailed) closed=\(closedByStore) stalled=\(stalled) "
                + "refused=\(refusedRequests) sent=\(sent)"
        }

        init() {}

        init?(line: Substring) {
            guard line.hasPrefix("result ") else { return nil }
            var fields: [Substring: Int] = [:]
            for pair in line.dropFirst(7).split(separator: " ") {
                let parts = pair.split(separator: "=")
                if parts.count == 2, let value = Int(parts[1]) { fields[parts[0]] = value }
            }
            (opened, connectFailed, closedByStore) = (fields["opened"] ?? 0, fields["connect-failed"] ?? 0, fields["closed"] ?? 0)
            (stalled, refusedRequests, sent) = (fields["stalled"] ?? 0, fields["refused"] ?? 0, fields["sent"] ?? 0)
        }

        static func + (a: Tally, b: Tally) -> Tally {
            var sum = Tally()
            sum.opened = a.opened + b.opened
            sum.connectFailed = a.connectFailed + b.connectFailed
            sum.closedByStore = a.closedByStore + b.closedByStore
            sum.stalled = a.stalled + b.stalled
            sum.refusedRequests = a.refusedRequests + b.refusedRequests
            sum.sent = a.sent + b.sent
            return sum
        }
    }

    /// An attacker process: sets its attack up (on a thread of its own, printing "ready" when all is
    /// sent) and holds every connection open (sealing meanwhile, for arrow-subscribers) until the
    /// parent closes our stdin; then stops sending, if it still was, and prints its tally.
    static func attackerMain(_ arguments: [String]) throws {
        // socket, the assignment's 5 fields, the scheduling class (AttackerScheduling).
        guard arguments.count == 7, let assignment = Assignment(arguments[1..<6]),
              let scheduling = AttackerScheduling(rawValue: arguments[6]) else {
            ChildSignal.emit("error bad arguments \(arguments)")
            return
        }
        do { try scheduling.apply() } catch {
            ChildSignal.emit("error \(error)")
            return
        }
        let socket = arguments[0]
        let attacker = Attacker(socket: socket, assignment: assignment)
        let setUp = DispatchSemaphore(value: 0)
        Thread {
            attacker.setUp()
            if !attacker.isStopping { ChildSignal.emit("ready") }
            setUp.signal()
        }.start()
        let sealer = assignment.seals ? Sealer(socket: socket) : nil
        sealer?.start()
        while ChildSignal.wait() {}
        attacker.stop()
        setUp.wait()
        sealer?.stop()
        ChildSignal.emit(attacker.finish().line)
    }
}
