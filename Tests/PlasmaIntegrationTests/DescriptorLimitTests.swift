import Foundation
import Glibc
import PlasmaClient
import PlasmaCore
import PlasmaPosix
import Testing

/// Programs the tests run from PATH.
enum Tool {
    static func exists(_ name: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { access("\($0)/\(name)", X_OK) == 0 }
    }

    /// Runs it to completion; its exit status.
    @discardableResult
    static func run(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

extension IntegrationTests {
    /// Descriptors: the client limit fits RLIMIT_NOFILE, and running out of descriptors anyway pauses
    /// accepting instead of spinning. Also the daemon's log lines about connections.
    @Suite struct DescriptorLimitTests {
        func lines(_ log: String, containing text: String) -> [Substring] {
            log.split(separator: "\n").filter { $0.contains(text) }
        }

        func openDescriptors(of pid: pid_t) -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
        }

        @Test(.enabled(if: Tool.exists("prlimit"), "needs prlimit(1) (util-linux)"))
        func aLowDescriptorLimitLowersTheClientLimitInOneLogLineAndThatManyClientsAreServed() throws {
            let store = try StoreProcess(
                memory: "8M", arguments: ["--no-prefault", "--max-clients", "1024"],
                launcher: ["prlimit", "--nofile=64:64"])
            // (64 - 32 reserved) / 2 per client (DescriptorBudget).
            let lowered = lines(store.log, containing: "serving at most")
            #expect(lowered.count == 1, "\(store.log)")
            #expect(lowered.first?.contains("serving at most 16 clients instead of --max-clients 1024") == true)
            #expect(lowered.first?.contains("(RLIMIT_NOFILE) is 64") == true)

            var clients: [PlasmaClient] = []
            for index in 0..<16 {
                let client = try store.connect()
                let id = ObjectID.random()
                try client.createAndSeal(id, data: [UInt8(index)])
                #expect(try client.get(id, timeout: .no)?.copyBytes().first == UInt8(index))
                clients.append(client)
            }
            let error = #expect(throws: PlasmaClientError.self) { try store.connect() }
            #expect(error?.status == .limitReached)
            #expect(try clients[0].statistics().clients == 16)
        }

        /// The store gets a descriptor limit just above what it holds, then more connections than fit
        /// arrive: one line when accepting pauses, one when it resumes, and the store serves again once
        /// connections close. (It used to log "accept failed" some 67,000 times a second.)
        @Test(.enabled(if: Tool.exists("prlimit") && geteuid() == 0, "needs prlimit(1) and root to lower a running store's limit"))
        func runningOutOfDescriptorsPausesAcceptingWithTwoLogLinesAndServesAgainOnceConnectionsClose() throws {
            let store = try StoreProcess(memory: "8M", arguments: ["--no-prefault"])
            let pid = store.process.processIdentifier
            var first: [UnixSocket] = []
            defer { for socket in first { socket.close() } }
            for _ in 0..<50 { first.append(try UnixSocket.connect(path: store.socketPath)) }
            let probe = try store.connect()
            #expect(try eventually { try probe.statistics().clients == 51 })

            let limit = openDescriptors(of: pid) + 3
            #expect(try Tool.run(["prlimit", "--pid", "\(pid)", "--nofile=\(limit):\(limit)"]) == 0)
            var second: [UnixSocket] = []
            defer { for socket in second { socket.close() } }
            // More than the 3 free descriptors (and any holes below the limit): the rest queue in the backlog.
            for _ in 0..<30 { second.append(try UnixSocket.connect(path: store.socketPath)) }
            #expect(store.waitForLog("out of descriptors"), "\(store.log)")

            for socket in first { socket.close() }
            first.removeAll()
            #expect(store.waitForLog("accepting again"), "\(store.log)")
            #expect(try eventually { try probe.statistics().clients == 31 })  // the probe and the 30 that waited

            let id = ObjectID.random()
            let client = try store.connect()
            try client.createAndSeal(id, data: [7])
            #expect(try probe.get(id, timeout: .no)?.copyBytes().first == 7)

            let log = store.log
            #expect(lines(log, containing: "out of descriptors").count == 1, "\(log)")
            #expect(lines(log, containing: "accepting again").count == 1)
            #expect(lines(log, containing: "accept").count == 2)
            // Failed accepts are bounded by the waiting connections plus one retry a second: a loop
            // would count tens of thousands a second.
            let summary = try #require(lines(log, containing: "accepting again").first)
            let numbers = summary.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            let (milliseconds, failed) = (numbers[numbers.count - 2], numbers[numbers.count - 1])
            #expect(failed >= 1)
            #expect(failed <= 30 + 2 * (milliseconds / 1000 + 1), "\(summary)")
        }

        @Test func connectsAndDisconnectsAreDebugLinesAndTheDaemonHasOneLabel() throws {
            for level in ["info", "debug"] {
                let store = try StoreProcess(memory: "1M", arguments: ["--no-prefault", "--log-level", level])
                let probe = try store.connect()
                do { _ = try store.connect() }  // connects and goes
                #expect(try eventually { try probe.statistics().clients == 1 })
                probe.close()
                #expect(store.stop() == 0)
                let log = store.log.split(separator: "\n")
                #expect(!log.isEmpty)
                for line in log {
                    #expect(line.contains(" plasma-store: ") && !line.contains("["), "one label, no module names: \(line)")
                }
                let connectionLines = log.filter { $0.contains("connected client") }
                if level == "info" {
                    #expect(connectionLines.isEmpty, "\(log)")
                } else {
                    #expect(connectionLines.count == 4, "\(log)")  // two connects, two disconnects
                    #expect(connectionLines.allSatisfy { $0.contains(" debug plasma-store: ") })
                }
            }
        }
    }
}
