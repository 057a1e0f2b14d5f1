import Foundation

/// Runs this same executable in a helper role (a subscriber or a waiter in another process) and
/// collects what it prints.
final class ChildProcess {
    private let process = Process()
    private let output = Pipe()

    init(role: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = [role] + arguments
        process.standardOutput = output
        try process.run()
    }

    /// Everything the child printed, once it has exited.
    func finish() -> String {
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text
    }

    var pid: Int32 { process.processIdentifier }
}

/// Writes ids one per line to a temporary file that child processes read.
func writeIDs(_ ids: [String], tag: String) throws -> URL {
    let url = URL(fileURLWithPath: "/tmp/plasma-bench-\(getpid())-\(tag).ids")
    try ids.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
    return url
}

/// A process's anonymous resident memory (excludes the shared arena), from /proc.
func anonymousRSS(pid: Int32) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("RssAnon:") {
        return line.split(separator: " ").compactMap { Int($0) }.first.map { $0 * 1024 }
    }
    return nil
}
