import Foundation
import Glibc

/// A store the benchmark starts, on a private socket: our `plasma-store` from beside this executable,
/// or Arrow's `plasma-store-server` (for --compare-arrow).
final class LaunchedStore {
    let socketPath: String
    private let process = Process()
    private let isArrow: Bool

    /// Our store. `maxClients` is passed as --max-clients (connect-storm needs more than the default 1024);
    /// `extraArguments` follow the benchmark's own.
    init(memory: String, maxClients: Int, tag: String = "", extraArguments: [String] = []) throws {
        socketPath = "/tmp/plasma-bench-\(getpid())\(tag.isEmpty ? "" : "-" + tag).sock"
        isArrow = false
        let directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        process.executableURL = directory.appendingPathComponent("plasma-store")
        process.arguments = [
            "--memory", memory, "--socket", socketPath, "--max-clients", "\(maxClients)", "--log-level", "warning",
        ] + extraArguments
        try process.run()
    }

    /// Arrow's store: `plasma-store-server -m BYTES -s SOCKET`; its output goes to `arrowLogPath`, removed
    /// again when the store exits cleanly.
    init(arrowServer: String, bytes: Int) throws {
        socketPath = "/tmp/plasma-bench-\(getpid())-arrow.sock"
        isArrow = true
        process.executableURL = URL(fileURLWithPath: arrowServer)
        process.arguments = ["-m", "\(bytes)", "-s", socketPath]
        _ = FileManager.default.createFile(atPath: Self.arrowLogPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: Self.arrowLogPath)
        process.standardOutput = FileHandle(forWritingAtPath: Self.arrowLogPath)
        try process.run()
    }

    static var arrowLogPath: String { "/tmp/plasma-bench-\(getpid())-arrow.log" }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        unlink(socketPath)  // Arrow's store leaves its socket file behind; ours has removed it already
        if isArrow, process.terminationStatus == 0 { unlink(Self.arrowLogPath) }  // kept when it failed
    }
}
