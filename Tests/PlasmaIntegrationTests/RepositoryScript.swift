import Foundation

/// A bash script of this repository run against the binaries this `swift test` built: the Python
/// suites (ours, pyarrow 11's) are driven this way. The script learns the store's path from
/// `PLASMA_STORE_BIN`; `PLASMA_STORE_SOCKET` is cleared so that a developer's own setting can't point the
/// suites at another store.
enum RepositoryScript {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `script` (a path relative to the repository) to the end and returns its exit status and its
    /// standard output and error, interleaved as they were written.
    static func run(
        _ script: String, arguments: [String] = [], environment extra: [String: String] = [:]
    ) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [repository.appendingPathComponent(script).path] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PLASMA_STORE_BIN"] = BuiltProducts.url("plasma-store").path
        environment["PLASMA_STORE_SOCKET"] = nil
        environment.merge(extra) { _, given in given }
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // Read to the end before waiting: a full pipe would otherwise block the script forever.
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }
}
