import Foundation
import Glibc
import PlasmaClient
import PlasmaCore
import Testing

extension IntegrationTests {
    /// The `plasma` command-line tool, run as a separate process against the real daemon.
    @Suite struct PlasmaCLITests {
        // MARK: put and get

        @Test func putFromAFileThenGetToAFileRoundTripsTheBytes() throws {
            let store = try StoreProcess()
            let data = Data(pattern(size: (3 << 20) + 12_345, seed: 3))
            let input = try TemporaryFile(data)
            let output = TemporaryFile(empty: ())

            let put = try PlasmaRun(["put", input.path], socket: store.socketPath).finish()
            #expect(put.status == 0, "\(put.err)")
            let hex = put.out.trimmingCharacters(in: .newlines)
            let id = try #require(ObjectID(hex: hex), "put printed '\(put.out)'")
            #expect(put.out == hex + "\n")

            let get = try PlasmaRun(["get", hex, "-o", output.path], socket: store.socketPath).finish()
            #expect(get.status == 0, "\(get.err)")
            #expect(get.stdout.isEmpty)
            #expect(try Data(contentsOf: output.url) == data)

            let buffer = try #require(try store.connect().get(id, timeout: .no))
            #expect(buffer.count == data.count)
            #expect(buffer.metadataCount == 0)
        }

        @Test func putFromStdinWithAGivenIDStoresThoseBytesUnderThatID() throws {
            let store = try StoreProcess()
            for (index, size) in [5, 200_000].enumerated() {
                let id = ObjectID.random()
                let data = Data(pattern(size: size, seed: index))
                let put = try PlasmaRun(
                    ["put", "--metadata", "application/x-test", id.hex, "-"], socket: store.socketPath, stdin: data
                ).finish()
                #expect(put.status == 0, "\(put.err)")
                #expect(put.out == id.hex + "\n")

                let get = try PlasmaRun(["get", id.hex], socket: store.socketPath).finish()
                #expect(get.status == 0, "\(get.err)")
                #expect(get.stdout == data)
                let metadata = try PlasmaRun(["get", "--metadata", id.hex], socket: store.socketPath).finish()
                #expect(metadata.out == "application/x-test")
            }
        }

        @Test func getRefusesBinaryToATerminalUnlessDashOAsksButWritesTextAndPipes() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let (binary, text) = (ObjectID.random(), ObjectID.random())
            let bytes: [UInt8] = [0x1B, 0x5B, 0x32, 0x4A, 0x00, 0xFF, 0x41]  // ESC [ 2 J (clear screen), NUL, 0xFF
            try client.createAndSeal(binary, data: bytes)
            try client.createAndSeal(text, data: Array("héllo\tworld\n".utf8))

            let refused = try TerminalRun(["get", "--socket", store.socketPath, binary.hex])
            #expect(refused.status == 64, "\(refused.output)")
            #expect(refused.output.contains("plasma: not writing 7 bytes of binary data to the terminal"), "\(refused.output)")
            #expect(!refused.output.contains("\u{1B}[2J"), "no byte of the object reached the terminal")

            let asked = try TerminalRun(["get", "--socket", store.socketPath, binary.hex, "-o", "-"])
            #expect(asked.status == 0, "\(asked.output)")
            #expect(asked.bytes.starts(with: bytes), "\(asked.bytes)")

            let shown = try TerminalRun(["get", "--socket", store.socketPath, text.hex])
            #expect(shown.status == 0, "\(shown.output)")
            #expect(shown.output.hasPrefix("héllo\tworld"), "\(shown.output)")

            let piped = try PlasmaRun(["get", binary.hex], socket: store.socketPath).finish()
            #expect(piped.status == 0 && piped.stdout == Data(bytes), "a pipe gets the bytes: \(piped.err)")
        }

        @Test func getOfAMissingIDExitsWith3() throws {
            let store = try StoreProcess()
            let id = ObjectID.random()
            let get = try PlasmaRun(["get", id.hex], socket: store.socketPath).finish()
            #expect(get.status == 3)
            #expect(get.stdout.isEmpty)
            #expect(get.err.hasPrefix("plasma: "))
            #expect(get.err.contains(id.hex))
            #expect(get.err.split(separator: "\n").count == 1)
        }

        @Test func getWithATimeoutOfAMissingIDExitsWith4AfterTheTimeout() throws {
            let store = try StoreProcess()
            let started = ContinuousClock.now
            let get = try PlasmaRun(["get", ObjectID.random().hex, "--timeout", "200ms"], socket: store.socketPath).finish()
            let elapsed = started.duration(to: .now)
            #expect(get.status == 4, "\(get.err)")
            #expect(get.err.hasPrefix("plasma: "))
            // Not before the timeout; the upper bound is 25 times the expected 0.2 s (start-up included),
            // only there to catch a timeout that is ignored.
            #expect(elapsed >= .milliseconds(200))
            #expect(elapsed < .seconds(5))
        }

        @Test func getWaitReturnsOnceAnotherProcessPutsTheObject() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let id = ObjectID.random()
            let data = Data(pattern(size: 1 << 20, seed: 7))
            let input = try TemporaryFile(data)

            let waiting = try PlasmaRun(["get", "--wait", id.hex], socket: store.socketPath)
            #expect(try eventually { try client.statistics().pendingGets == 1 })
            #expect(waiting.isRunning)

            let put = try PlasmaRun(["put", id.hex, input.path], socket: store.socketPath).finish()
            #expect(put.status == 0, "\(put.err)")
            let get = try waiting.finish()
            #expect(get.status == 0, "\(get.err)")
            #expect(get.stdout == data)
        }

        // MARK: Failures

        @Test func putIntoAFullStoreExitsWith5() throws {
            let store = try StoreProcess(memory: "1M")
            let client = try store.connect()
            let held = ObjectID.random()
            try client.createAndSeal(held, data: pattern(size: 200 << 10, seed: 1))
            let buffer = try #require(try client.get(held, timeout: .no))  // referenced: not evictable
            let input = try TemporaryFile(Data(pattern(size: 900 << 10, seed: 2)))

            let put = try PlasmaRun(["put", input.path], socket: store.socketPath).finish()
            #expect(put.status == 5, "\(put.err)")
            #expect(put.stdout.isEmpty)
            #expect(put.err.hasPrefix("plasma: "))
            #expect(put.err.contains("full"))

            let waited = try PlasmaRun(["put", "--wait-for-space", "200ms", input.path], socket: store.socketPath).finish()
            #expect(waited.status == 5, "\(waited.err)")
            #expect(try client.statistics().sealedObjects == 1)
            withExtendedLifetime(buffer) {}
        }

        @Test func aSocketNobodyServesExitsWith6NamingThePath() throws {
            let path = uniqueSocketPath("nobody")
            let list = try PlasmaRun(["list"], socket: path).finish()
            #expect(list.status == 6)
            #expect(list.err.hasPrefix("plasma: "))
            #expect(list.err.contains(path))

            // The same through the environment, and with --socket before the subcommand.
            let viaEnvironment = try PlasmaRun(["stats"], socket: nil, environment: ["PLASMA_STORE_SOCKET": path]).finish()
            #expect(viaEnvironment.status == 6)
            #expect(viaEnvironment.err.contains(path))
            let before = try PlasmaRun(["--socket", path, "stats"], socket: nil).finish()
            #expect(before.status == 6)
            #expect(before.err.contains(path))
            // It says how to start a store there; one line still.
            #expect(list.err.contains("start one with: plasma-store --memory 2G --socket \(path)"), "\(list.err)")
            #expect(list.err.split(separator: "\n").count == 1)
        }

        @Test func aBadDurationIsAUsageErrorNamingTheAcceptedForms() throws {
            let store = try StoreProcess()
            let get = try PlasmaRun(["get", ObjectID.random().hex, "--timeout", "5 parsecs"], socket: store.socketPath).finish()
            #expect(get.status == 64)
            #expect(get.err.hasPrefix("plasma: "))
            #expect(get.err.contains("250ms"))
            #expect(get.err.split(separator: "\n").count == 1)

            let put = try PlasmaRun(["put", "--wait-for-space=soon", "-"], socket: store.socketPath, stdin: Data()).finish()
            #expect(put.status == 64)
            #expect(put.err.contains("250ms"))

            let badID = try PlasmaRun(["get", "not-an-id"], socket: store.socketPath).finish()
            #expect(badID.status == 64)
            #expect(badID.err.hasPrefix("plasma: "))
        }

        // MARK: list, stats, delete, evict

        @Test func listShowsTheObjectAsATableAndAsJSON() throws {
            let store = try StoreProcess()
            let id = ObjectID.random()
            let size = 123_457
            let put = try PlasmaRun(
                ["put", "--metadata", "abc", id.hex, "-"], socket: store.socketPath, stdin: Data(pattern(size: size, seed: 4))
            ).finish()
            #expect(put.status == 0, "\(put.err)")

            let table = try PlasmaRun(["list"], socket: store.socketPath).finish()
            #expect(table.status == 0, "\(table.err)")
            let row = try #require(table.out.split(separator: "\n").first { $0.hasPrefix(id.hex) })
            #expect(row.contains("sealed"))
            #expect(row.contains("120.6 KiB"))

            let json = try PlasmaRun(["list", "--json"], socket: store.socketPath).finish()
            #expect(json.status == 0, "\(json.err)")
            let array = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [[String: Any]])
            #expect(array.count == 1)
            let object = try #require(array.first)
            #expect(object["id"] as? String == id.hex)
            #expect((object["data_size"] as? NSNumber)?.intValue == size)
            #expect((object["metadata_size"] as? NSNumber)?.intValue == 3)
            #expect(object["state"] as? String == "sealed")
            #expect((object["ref_count"] as? NSNumber)?.intValue == 0)
        }

        @Test func statsJSONHasTheStoresCapacity() throws {
            let store = try StoreProcess(memory: "3M")
            let json = try PlasmaRun(["stats", "--json"], socket: store.socketPath).finish()
            #expect(json.status == 0, "\(json.err)")
            let object = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: [String: Any]])
            #expect(Set(object.keys) == ["settings", "gauges", "counters"])
            #expect((object["settings"]?["capacity"] as? NSNumber)?.intValue == 3 << 20)
            #expect(object["gauges"]?["bytes_in_use"] != nil && object["counters"]?["evicted_objects"] != nil)
            let keys = object.values.flatMap(\.keys)
            #expect(keys.count == StoreStatistics.fieldNames.count && Set(keys) == Set(StoreStatistics.fieldNames))
            for (kind, fields) in object {
                for name in fields.keys { #expect(kind == StoreStatistics.kind(of: name).rawValue + "s", "\(name) in \(kind)") }
            }

            let table = try PlasmaRun(["stats"], socket: store.socketPath).finish()
            #expect(table.status == 0, "\(table.err)")
            #expect(table.out.contains("3.0 MiB (3145728 bytes)"))
            // Three groups, in this order, each field under its own.
            let lines = table.out.split(separator: "\n").map(String.init)
            let headings = ["settings (fixed at start)", "gauges (now)", "counters (totals since start)"].map { heading in
                lines.firstIndex(of: heading)
            }
            #expect(headings.allSatisfy { $0 != nil } && headings == headings.sorted { ($0 ?? 0) < ($1 ?? 0) }, "\(table.out)")
            let evicted = lines.firstIndex { $0.hasPrefix("  evicted_objects ") }
            let inUse = lines.firstIndex { $0.hasPrefix("  bytes_in_use ") }
            #expect(evicted.map { $0 > headings[2]! } == true && inUse.map { $0 > headings[1]! && $0 < headings[2]! } == true, "\(table.out)")
        }

        @Test func deletePrintsEachOutcomeAndExits3WhenAnIDIsMissing() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let (gone, held, missing) = (ObjectID.random(), ObjectID.random(), ObjectID.random())
            try client.createAndSeal(gone, data: [1, 2, 3])
            try client.createAndSeal(held, data: [4, 5, 6])
            let buffer = try #require(try client.get(held, timeout: .no))

            let delete = try PlasmaRun(["delete", gone.hex, held.hex, missing.hex], socket: store.socketPath).finish()
            #expect(delete.status == 3)
            #expect(delete.out.split(separator: "\n") == [
                "\(gone.hex)  deleted", "\(held.hex)  deferred until released", "\(missing.hex)  not found",
            ])
            #expect(try client.contains(gone) == false)
            try buffer.release()
            #expect(try eventually { try client.contains(held) == false })

            try client.createAndSeal(gone, data: [7])
            let again = try PlasmaRun(["delete", gone.hex], socket: store.socketPath).finish()
            #expect(again.status == 0, "\(again.err)")
            #expect(again.out == "\(gone.hex)  deleted\n")
        }

        @Test func evictFreesAnUnreferencedObject() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let id = ObjectID.random()
            let put = try PlasmaRun(["put", id.hex, "-"], socket: store.socketPath, stdin: Data(pattern(size: 1 << 20, seed: 8)))
                .finish()
            #expect(put.status == 0, "\(put.err)")
            #expect(try client.contains(id))

            let evict = try PlasmaRun(["evict", "1M"], socket: store.socketPath).finish()
            #expect(evict.status == 0, "\(evict.err)")
            #expect(evict.out == "evicted 1.0 MiB (1048576 bytes) in 1 object\n")
            #expect(try client.contains(id) == false)
            #expect(try client.statistics().evictedObjects == 1)
        }

        // MARK: Progress

        @Test func noProgressBarWhenStderrIsAPipe() throws {
            let store = try StoreProcess()
            let data = Data(pattern(size: 16 << 20, seed: 6))
            let input = try TemporaryFile(data)
            let output = TemporaryFile(empty: ())

            let put = try PlasmaRun(["put", input.path], socket: store.socketPath).finish()
            #expect(put.status == 0)
            #expect(put.stderr.isEmpty)
            let fromStdin = try PlasmaRun(["put", "-"], socket: store.socketPath, stdin: data).finish()
            #expect(fromStdin.status == 0)
            #expect(fromStdin.stderr.isEmpty)

            let get = try PlasmaRun(["get", put.out.trimmingCharacters(in: .newlines), "-o", output.path], socket: store.socketPath)
                .finish()
            #expect(get.status == 0)
            #expect(get.stderr.isEmpty)
            #expect(try Data(contentsOf: output.url) == data)
        }
    }

    // MARK: Helpers

    /// One run of `plasma`: stdout and stderr are drained on their own threads while it runs (a large
    /// output would otherwise fill the pipe and block it), stdin is fed from another.
    final class PlasmaRun {
        struct Result {
            let status: Int32
            let stdout: Data
            let stderr: Data
            var out: String { String(decoding: stdout, as: UTF8.self) }
            var err: String { String(decoding: stderr, as: UTF8.self) }
        }

        /// A run that exits without reading all its stdin must not kill the test process with SIGPIPE:
        /// the feeding write fails with EPIPE instead.
        private static let ignoreBrokenPipes: Void = { signal(SIGPIPE, SIG_IGN) }()

        private let process = Process()
        private let stdoutData: BackgroundCall<Data>
        private let stderrData: BackgroundCall<Data>

        /// - Parameters:
        ///   - socket: passed as `--socket` after the subcommand; nil passes none.
        ///   - stdin: bytes for standard input; nil gives it /dev/null.
        ///   - environment: added to the test's environment, from which `PLASMA_STORE_SOCKET` is removed.
        init(_ arguments: [String], socket: String?, stdin: Data? = nil, environment: [String: String] = [:]) throws {
            _ = Self.ignoreBrokenPipes
            process.executableURL = BuiltProducts.url("plasma")
            var arguments = arguments
            if let socket { arguments.insert(contentsOf: ["--socket", socket], at: min(1, arguments.count)) }
            process.arguments = arguments
            var merged = ProcessInfo.processInfo.environment
            merged["PLASMA_STORE_SOCKET"] = nil
            merged.merge(environment) { $1 }
            process.environment = merged

            let output = Pipe(), errors = Pipe(), input = Pipe()
            process.standardOutput = output
            process.standardError = errors
            process.standardInput = stdin == nil ? FileHandle.nullDevice : input
            try process.run()

            let outputReader = output.fileHandleForReading, errorReader = errors.fileHandleForReading
            stdoutData = BackgroundCall { outputReader.readDataToEndOfFile() }
            stderrData = BackgroundCall { errorReader.readDataToEndOfFile() }
            if let stdin {
                let writer = input.fileHandleForWriting
                _ = BackgroundCall {
                    try? writer.write(contentsOf: stdin)
                    try? writer.close()
                }
            }
        }

        var isRunning: Bool { process.isRunning }

        /// Reads both outputs to their end, then waits for the exit.
        func finish(timeout: TimeInterval = 60) throws -> Result {
            let stdout = try stdoutData.value(timeout: timeout)
            let stderr = try stderrData.value(timeout: timeout)
            process.waitUntilExit()
            #expect(process.terminationReason == .exit, "plasma was killed by signal \(process.terminationStatus)")
            return Result(status: process.terminationStatus, stdout: stdout, stderr: stderr)
        }

        deinit {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
    }

    /// `plasma` with a pseudo-terminal as its standard output and error, as at an interactive shell:
    /// run by util-linux's `script` (Debian's essential bsdutils), which copies what the terminal
    /// received to its own stdout (with the terminal's \n → \r\n) and exits with the command's status.
    struct TerminalRun {
        let status: Int32
        let bytes: [UInt8]
        var output: String { String(decoding: bytes, as: UTF8.self) }

        init(_ arguments: [String]) throws {
            let command = ([BuiltProducts.url("plasma").path] + arguments).map { "'\($0)'" }.joined(separator: " ")
            let run = Process()
            run.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            run.arguments = ["--quiet", "--return", "--command", command, "/dev/null"]
            let output = Pipe()
            run.standardOutput = output
            run.standardError = FileHandle.nullDevice
            run.standardInput = FileHandle.nullDevice
            try run.run()
            let reader = output.fileHandleForReading
            let data = try BackgroundCall { reader.readDataToEndOfFile() }.value(timeout: 60)
            run.waitUntilExit()
            status = run.terminationStatus
            bytes = Array(data)
        }
    }

    /// A file in the temporary directory, removed when dropped.
    final class TemporaryFile {
        let url: URL
        var path: String { url.path }

        init(empty: Void) {
            url = FileManager.default.temporaryDirectory
                .appendingPathComponent("plasma-cli-test-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        }

        convenience init(_ data: Data) throws {
            self.init(empty: ())
            try data.write(to: url)
        }

        deinit { try? FileManager.default.removeItem(at: url) }
    }
}

extension IntegrationTests {
    /// `plasma watch`: the subscription layer from a terminal.
    @Suite struct PlasmaWatchTests {
        @Test func watchPrintsEventsForTheGivenIdsOnly() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let (watched, other) = (ObjectID.random(), ObjectID.random())
            let watcher = try PeerProcess(["watch", "--socket", store.socketPath, watched.hex], program: "plasma")
            #expect(try eventually { try client.statistics().subscriptions == 1 })
            try client.createAndSeal(other, data: [1])
            let before = Date()
            try client.createAndSeal(watched, data: [1, 2], metadata: [3])
            let sealed = try #require(watcher.nextLine())
            #expect(sealed.hasSuffix(" sealed \(watched.hex) data=2 metadata=1"), "\(sealed)")
            // Each line starts with the time it arrived, UTC with milliseconds.
            let stamp = try #require(sealed.split(separator: " ").first.map(String.init))
            let parsed = try #require(try? Date(stamp, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)), "\(stamp)")
            #expect(stamp.count == 24 && stamp.hasSuffix("Z"), "\(stamp)")
            #expect(parsed >= before.addingTimeInterval(-1) && parsed <= Date().addingTimeInterval(1), "\(stamp) vs \(before)")
            #expect(try client.delete([watched]) == [.ok])
            let deleted = try #require(watcher.nextLine())
            #expect(deleted.hasSuffix(" deleted \(watched.hex)") && deleted.count == 24 + 1 + "deleted ".count + 40, "\(deleted)")
        }

        @Test func watchWithAPrefixAndJSON() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let inside = ObjectID(bytes: [0xC0, 0xFF, 0xEE] + ObjectID.random().bytes.dropFirst(3))!
            let watcher = try PeerProcess(["watch", "--socket", store.socketPath, "--prefix", "c0ffee", "--json"], program: "plasma")
            #expect(try eventually { try client.statistics().subscriptions == 1 })
            try client.createAndSeal(ObjectID.random(), data: [1])
            try client.createAndSeal(inside, data: [1])
            let line = try #require(watcher.nextLine())
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            #expect(object["event"] as? String == "sealed")
            #expect(object["id"] as? String == inside.hex)
            #expect((object["data_size"] as? NSNumber)?.intValue == 1)
            #expect((object["metadata_size"] as? NSNumber)?.intValue == 0)
            let time = try #require(object["time"] as? String)
            #expect((try? Date(time, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))) != nil, "\(time)")
            #expect(line.hasPrefix(#"{"time":""#))
        }
    }
}
