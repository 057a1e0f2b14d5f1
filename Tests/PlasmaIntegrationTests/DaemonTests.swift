import Foundation
import Glibc
import PlasmaClient
import PlasmaCore
import PlasmaPosix
import Synchronization
import Testing

extension IntegrationTests {
    /// The `plasma-store` process itself: flags, start-up, the socket file, shutdown.
    @Suite struct DaemonTests {
        /// Runs plasma-store to completion (for flag errors); returns exit status and stderr.
        func runToExit(_ arguments: [String], timeout: TimeInterval = 20) throws -> (Int32, String) {
            let process = Process()
            let errors = Pipe()
            process.executableURL = BuiltProducts.url("plasma-store")
            process.arguments = arguments
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let output = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: output, as: UTF8.self))
        }

        @Test func startupLineNamesCapacitySocketPrefaultAndPid() throws {
            let store = try StoreProcess(memory: "1.5M")
            #expect(store.log.contains("capacity 1.5 MiB (1572864 bytes)"))
            #expect(store.log.contains("socket \(store.socketPath)"))
            #expect(store.log.contains("prefault "))
            #expect(store.log.contains("pid \(store.process.processIdentifier)"))
            #expect(try store.connect().capacity == 1_572_864)
        }

        @Test(arguments: ["2X", "", "-1", "1.5", "G"])
        func badMemoryValueExitsNonZeroShowingAnAcceptedForm(_ value: String) throws {
            let (status, errors) = try runToExit(["--memory=\(value)", "--socket", uniqueSocketPath()])
            #expect(status != 0)
            #expect(errors.contains("e.g. 2G, 512M, 1.5G, 2GiB, 1000000"), "stderr: \(errors)")
        }

        @Test func arrowStyleShortFlagsWork() throws {
            let store = try StoreProcess(memory: "10000", shortFlags: true, arguments: ["-h"])
            #expect(store.log.contains("socket \(store.socketPath)"))
            #expect(store.log.contains("capacity 9.8 KiB (10000 bytes)"))
            #expect(store.log.contains("hugepages requested") || store.log.contains("pages huge"))
            #expect(try store.connect().capacity == 10000)
        }

        @Test func helpIsLongOnlyBecauseDashHMeansHugepages() throws {
            let (status, _) = try runToExit(["--help"])
            #expect(status == 0)
        }

        @Test func sigtermExitsZeroRemovesTheSocketAndDisconnectsClients() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let id = ObjectID.random()
            try client.createAndSeal(id, data: [1])
            #expect(store.stop() == 0)
            #expect(access(store.socketPath, F_OK) != 0)
            let error = #expect(throws: PlasmaClientError.self) { try client.contains(id) }
            if case .disconnected = error {} else { Issue.record("expected disconnected, got \(String(describing: error))") }
        }

        @Test func aLiveStoresSocketIsNotStolen() throws {
            let store = try StoreProcess()
            let (status, errors) = try runToExit(["--memory", "1M", "--socket", store.socketPath])
            #expect(status != 0)
            #expect(errors.contains("already serving"), "stderr: \(errors)")
            #expect(try store.connect().capacity > 0)
        }

        @Test func aStaleSocketFileIsReplaced() throws {
            let path = uniqueSocketPath()
            let dead = try UnixSocket.listen(path: path, mode: 0o600)
            dead.close()  // the file stays, nobody listens
            let store = try StoreProcess(socketPath: path)
            #expect(try store.connect().capacity > 0)
        }

        @Test func aPathThatIsNotASocketIsNeverDeleted() throws {
            let path = uniqueSocketPath()
            _ = FileManager.default.createFile(atPath: path, contents: Data("keep me".utf8))
            defer { unlink(path) }
            let (status, errors) = try runToExit(["--memory", "1M", "--socket", path])
            #expect(status != 0)
            #expect(errors.contains("is not a socket"))
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep me")
        }

        @Test func socketIsOwnerOnlyByDefaultAndModeIsConfigurable() throws {
            let store = try StoreProcess()
            var status = stat()
            #expect(lstat(store.socketPath, &status) == 0)
            #expect(status.st_mode & 0o777 == 0o600)
            let shared = try StoreProcess(arguments: ["--socket-mode", "660"])
            #expect(lstat(shared.socketPath, &status) == 0)
            #expect(status.st_mode & 0o777 == 0o660)
        }

        @Test func connectionsBeyondMaxClientsAreRefusedWithAReason() throws {
            let store = try StoreProcess(arguments: ["--max-clients", "2"])
            let first = try store.connect()
            let second = try store.connect()
            let error = #expect(throws: PlasmaClientError.self) { try store.connect() }
            #expect(error?.status == .limitReached)
            #expect("\(String(describing: error))".contains("--max-clients"))
            #expect(try first.statistics().clients == 2)
            #expect(try second.contains(.random()) == false)
            #expect(store.waitForLog("refused a connection"))
        }

        @Test func hugepagesFallBackToNormalPagesWithALogLine() throws {
            let reserved = (try? String(contentsOfFile: "/proc/sys/vm/nr_hugepages", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let store = try StoreProcess(memory: "4M", arguments: ["--hugepages"])
            if reserved == "0" {
                #expect(store.log.contains("hugepages requested but unavailable"))
                #expect(store.log.contains("pages normal"))
            } else {
                #expect(store.log.contains("pages huge") || store.log.contains("hugepages requested but unavailable"))
            }
            let client = try store.connect()
            try client.createAndSeal(.random(), data: [UInt8](repeating: 1, count: 1 << 20))
        }

        @Test func noPrefaultStartsAndServes() throws {
            let store = try StoreProcess(memory: "8M", arguments: ["--no-prefault"])
            #expect(store.log.contains("no prefault"))
            let client = try store.connect()
            try client.createAndSeal(.random(), data: [UInt8](repeating: 1, count: 4 << 20))
        }

        /// Pre-wake arms its timer from the second large transfer on (the first one only measures), and
        /// again whenever an expectation lapses: every round trip must still be answered, every byte intact.
        @Test func preWakeServesRepeatedLargePutsAndGets() throws {
            let store = try StoreProcess(memory: "16M", arguments: ["--pre-wake"])
            let client = try store.connect()
            for round in 0..<8 {
                let bytes = (0..<(2 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ round) }
                let id = ObjectID.random()
                let object = try client.create(id, dataSize: bytes.count)
                try object.write(bytes)
                try object.seal().release()
                let read = try #require(try client.get(id, timeout: .milliseconds(10_000)))
                #expect(read.copyBytes() == bytes, "round \(round)")
                try read.release()
                #expect(try client.delete([id]) == [.ok])
            }
        }
    }
}

extension IntegrationTests {
    /// SIGTERM while clients are busy: each gets a clean error, the store exits 0 and removes its socket.
    @Suite struct ShutdownUnderLoadTests {
        @Test func sigtermUnderLoadDisconnectsEveryClientCleanly() throws {
            let store = try StoreProcess()
            let clients = try (0..<8).map { _ in try store.connect() }
            let rounds = clients.map { _ in Counter() }
            let workers = zip(clients, rounds).map { client, rounds in
                BackgroundCall { () -> PlasmaClientError? in
                    let payload = [UInt8](repeating: 1, count: 256)
                    while true {
                        do {
                            let id = ObjectID.random()
                            try client.createAndSeal(id, data: payload)
                            _ = try client.get(id, timeout: .no)
                            try client.delete([id])
                            rounds.value.add(1, ordering: .relaxed)
                        } catch let error as PlasmaClientError {
                            return error
                        }
                    }
                }
            }
            // Every client is in the middle of its loop when the signal comes.
            #expect(eventually { rounds.allSatisfy { $0.value.load(ordering: .relaxed) >= 10 } })
            #expect(store.stop() == 0)
            for worker in workers {
                let error = try worker.value(timeout: 20)
                switch error {
                case .disconnected?: break
                default: Issue.record("expected a disconnected error, got \(String(describing: error))")
                }
            }
            #expect(access(store.socketPath, F_OK) != 0, "the socket file is left behind")
        }
    }
}
