import Foundation
import Glibc

/// Runs this same executable in a helper role (a subscriber, a waiter, a client) in another process and
/// collects what it prints. An `interactive` child also gets a pipe on stdin: the parent releases it
/// step by step with `signal()` and reads its answers line by line with `readLine()`.
final class ChildProcess {
    private let process = Process()
    private let output = Pipe()
    private let input: Pipe?
    private var pending: [UInt8] = []

    init(role: String, _ arguments: [String], interactive: Bool = false) throws {
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = [role] + arguments
        process.standardOutput = output
        input = interactive ? Pipe() : nil
        if let input { process.standardInput = input }
        try process.run()
    }

    /// Releases an interactive child waiting in `ChildSignal.wait()`.
    func signal() throws {
        try input?.fileHandleForWriting.write(contentsOf: [0x67])
    }

    /// Closes the child's stdin: its next `ChildSignal.wait()` returns false.
    func closeInput() {
        try? input?.fileHandleForWriting.close()
    }

    /// The next line the child printed (without the newline); nil once it closed its output.
    func readLine() -> String? {
        while true {
            if let newline = pending.firstIndex(of: 10) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeFirst(newline + 1)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { Glibc.read(output.fileHandleForReading.fileDescriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                guard !pending.isEmpty else { return nil }
                defer { pending.removeAll() }
                return String(decoding: pending, as: UTF8.self)
            }
            pending.append(contentsOf: chunk[..<count])
        }
    }

    /// Everything the child printed (and `readLine` hasn't returned), once it has exited.
    func finish() -> String {
        closeInput()
        let rest = output.fileHandleForReading.readDataToEndOfFile()
        let text = String(decoding: pending + rest, as: UTF8.self)
        pending.removeAll()
        process.waitUntilExit()
        return text
    }

    var pid: Int32 { process.processIdentifier }
}

/// The child's side of an interactive `ChildProcess`.
enum ChildSignal {
    /// Blocks until the parent signals; false when the parent closed our stdin (or is gone).
    static func wait() -> Bool {
        var byte: UInt8 = 0
        while true {
            let count = Glibc.read(0, &byte, 1)
            if count < 0, errno == EINTR { continue }
            return count == 1
        }
    }

    /// Prints one line and flushes it at once (stdout to a pipe is otherwise block-buffered).
    static func emit(_ line: String) {
        print(line)
        fflush(nil)  // all streams: stdout to a pipe is block-buffered
    }
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

/// Nearest-rank percentile of ascending samples.
func percentile<T: BinaryInteger>(_ sorted: [T], _ p: Double) -> T {
    sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}
