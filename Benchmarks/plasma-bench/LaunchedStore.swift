import Foundation
import Glibc

/// A `plasma-store` the benchmark starts from beside its own executable, on a private socket.
final class LaunchedStore {
    let socketPath = "/tmp/plasma-bench-\(getpid()).sock"
    private let process = Process()

    init(memory: String) throws {
        let directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        process.executableURL = directory.appendingPathComponent("plasma-store")
        process.arguments = ["--memory", memory, "--socket", socketPath, "--log-level", "warning"]
        try process.run()
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}
