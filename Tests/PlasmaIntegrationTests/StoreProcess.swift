import Foundation
import Glibc
import PlasmaClient
import Testing

/// Where `swift build` put the executables: beside the test bundle.
enum BuiltProducts {
    static let directory: URL = {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return executable.deletingLastPathComponent()
    }()

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }
}

/// A unique socket path per test, so that tests can run in parallel.
func uniqueSocketPath(_ tag: String = "store") -> String {
    "/tmp/plasma-test-\(getpid())-\(tag)-\(UInt32.random(in: 0...UInt32.max)).sock"
}

/// The real `plasma-store` binary, run as a child process for one test.
final class StoreProcess {
    let socketPath: String
    let process = Process()
    private let logURL: URL

    /// - Parameters:
    ///   - shortFlags: use Arrow's `-m` / `-s` spellings instead of `--memory` / `--socket`.
    ///   - launcher: a command (found on PATH) that runs the store, e.g. `["prlimit", "--nofile=64:64"]`;
    ///     it must exec the store, so that the process's pid is the store's.
    ///   - environment: variables set for the store on top of the test's own.
    init(
        memory: String = "64M", shortFlags: Bool = false, arguments: [String] = [],
        socketPath: String = uniqueSocketPath(), launcher: [String] = [], environment: [String: String] = [:]
    ) throws {
        self.socketPath = socketPath
        logURL = URL(fileURLWithPath: socketPath + ".log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let storeArguments = (shortFlags ? ["-m", memory, "-s", socketPath] : ["--memory", memory, "--socket", socketPath]) + arguments
        if launcher.isEmpty {
            process.executableURL = BuiltProducts.url("plasma-store")
            process.arguments = storeArguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = launcher + [BuiltProducts.url("plasma-store").path] + storeArguments
        }
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardError = try FileHandle(forWritingTo: logURL)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        try waitUntilReady()
    }

    private func waitUntilReady() throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if log.contains("plasma-store ready") { return }
            guard process.isRunning else { throw Failure("store exited early: \(log)") }
            usleep(10_000)
        }
        throw Failure("store not ready after 20 s: \(log)")
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    func connect() throws -> PlasmaClient { try PlasmaClient(socketPath: socketPath) }

    /// Waits until the log contains `text` (the store logs asynchronously to the test's actions).
    func waitForLog(_ text: String, timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if log.contains(text) { return true }
            usleep(10_000)
        }
        return false
    }

    /// SIGTERM, then the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            // SIGTERM first, so that a store built with AddressSanitizer runs its leak check at exit;
            // SIGKILL if it hasn't gone within 5 s.
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(5_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        let log = self.log
        if log.contains("Sanitizer") {
            Issue.record("the store's log has a sanitizer report:\n\(log.suffix(8000))")
        }
        try? FileManager.default.removeItem(at: logURL)
        unlink(socketPath)
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `plasma-test-peer`, a client in another process, with its stdout read line by line.
final class PeerProcess {
    let process = Process()
    private let output = Pipe()
    private var buffered = ""

    init(_ arguments: [String], program: String = "plasma-test-peer") throws {
        process.executableURL = BuiltProducts.url(program)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// The next line the peer prints, or nil after `timeout`.
    func nextLine(timeout: TimeInterval = 10) -> String? {
        let fd = output.fileHandleForReading.fileDescriptor
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let newline = buffered.firstIndex(of: "\n") {
                let line = String(buffered[..<newline])
                buffered = String(buffered[buffered.index(after: newline)...])
                return line
            }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { return nil }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(remaining * 1000)) > 0 else { return nil }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = read(fd, &chunk, chunk.count)
            guard count > 0 else { return nil }
            buffered += String(decoding: chunk[..<count], as: UTF8.self)
        }
    }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Waits for exit; returns (status, reason) as Foundation reports them.
    func waitForExit() -> (Int32, Process.TerminationReason) {
        process.waitUntilExit()
        return (process.terminationStatus, process.terminationReason)
    }

    deinit {
        if process.isRunning { kill9() }
    }
}

/// The same pattern and checksum the peer uses.
func pattern(size: Int, seed: Int) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) }
}

func checksum(_ bytes: some Sequence<UInt8>) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return hash
}

/// Polls `condition` until true or `timeout`; for effects another process causes.
func eventually(timeout: TimeInterval = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(10_000)
    }
    return try condition()
}

/// Runs `body` on its own thread (not the cooperative pool, which blocking test code can fill) and
/// hands back its result when asked.
final class BackgroundCall<Value>: @unchecked Sendable {
    // @unchecked: `result` is written once by the thread before `done.signal()` and read only after
    // `done.wait()`, which orders the two.
    private var result: Result<Value, any Error>?
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () throws -> Value) {
        let thread = Thread { [self] in
            result = Result { try body() }
            done.signal()
        }
        thread.start()
    }

    /// The body's value (or error), waiting for it up to `timeout`.
    func value(timeout: TimeInterval = 30) throws -> Value {
        guard done.wait(timeout: .now() + timeout) == .success else { throw Failure("background call still running") }
        return try result!.get()
    }
}

/// `eventually` for async tests: sleeps with `Task.sleep`, so that it never holds one of the
/// cooperative pool's few threads while the tasks it waits for need one.
func eventually(timeout: TimeInterval = 10, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

extension StoreProcess {
    /// Fills a 1 MiB store with four sealed 256 KiB objects and holds them from a new client: nothing is
    /// evictable, so a create waits for space. Keep `held` alive for as long as that should last.
    func fillWithHeldQuarters() throws -> (holder: PlasmaClient, held: [ObjectBuffer?]) {
        let holder = try connect()
        let ids = (0..<4).map { _ in ObjectID.random() }
        for id in ids { try holder.createAndSeal(id, data: [UInt8](repeating: 1, count: 256 << 10)) }
        return (holder, try holder.get(ids, timeout: .no))
    }
}
