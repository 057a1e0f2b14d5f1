import Glibc
import PlasmaPosix

/// CPU time and context switches of a process, to say what a workload costs each side and not just how
/// fast it went. On a machine with few cores, every CPU microsecond a subscriber or the store spends
/// comes out of someone else.
struct CPUUsage {
    var nanoseconds: UInt64 = 0
    var voluntarySwitches = 0
    var involuntarySwitches = 0

    static func - (a: CPUUsage, b: CPUUsage) -> CPUUsage {
        CPUUsage(
            nanoseconds: a.nanoseconds &- b.nanoseconds, voluntarySwitches: a.voluntarySwitches - b.voluntarySwitches,
            involuntarySwitches: a.involuntarySwitches - b.involuntarySwitches)
    }

    static func + (a: CPUUsage, b: CPUUsage) -> CPUUsage {
        CPUUsage(
            nanoseconds: a.nanoseconds + b.nanoseconds, voluntarySwitches: a.voluntarySwitches + b.voluntarySwitches,
            involuntarySwitches: a.involuntarySwitches + b.involuntarySwitches)
    }

    /// This process, all its threads (getrusage: user + system).
    static func ofThisProcess() -> CPUUsage {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let micros = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000 + usage.ru_utime.tv_usec + usage.ru_stime.tv_usec
        return CPUUsage(
            nanoseconds: UInt64(micros) * 1000, voluntarySwitches: usage.ru_nvcsw, involuntarySwitches: usage.ru_nivcsw)
    }

    /// Another process, all its threads, from /proc (`schedstat`: nanoseconds on the CPU; `status`:
    /// context switches). nil when it can't be read (not ours, gone).
    static func ofProcess(_ pid: Int32) -> CPUUsage? {
        let directory = "/proc/\(pid)/task"
        guard let tasks = opendir(directory) else { return nil }
        defer { closedir(tasks) }
        var total = CPUUsage()
        while let entry = readdir(tasks) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard !name.hasPrefix(".") else { continue }
            guard let schedstat = readSmallFile("\(directory)/\(name)/schedstat"),
                  let ns = schedstat.split(separator: " ").first.flatMap({ UInt64($0) }) else { continue }
            total.nanoseconds += ns
            for line in (readSmallFile("\(directory)/\(name)/status") ?? "").split(separator: "\n") {
                let fields = line.split(separator: "\t").map { $0.trimmingCharacters(in: " ") }
                guard fields.count == 2, let value = Int(fields[1]) else { continue }
                if fields[0] == "voluntary_ctxt_switches:" { total.voluntarySwitches += value }
                if fields[0] == "nonvoluntary_ctxt_switches:" { total.involuntarySwitches += value }
            }
        }
        return total
    }

    /// The process serving a store's socket (its peer credentials), for `ofProcess`.
    static func storePID(socket: String) -> Int32? {
        guard let connection = try? UnixSocket.connect(path: socket) else { return nil }
        defer { connection.close() }
        return try? connection.peerCredentials().pid
    }

    /// "1.23 µs/event, 0.45 switches/event"
    func perUnit(_ count: Int, _ unit: String) -> String {
        let n = Double(max(count, 1))
        return String(
            format: "%.2f µs CPU + %.2f switches (%.2f vol) per %@", Double(nanoseconds) / 1000 / n,
            Double(voluntarySwitches + involuntarySwitches) / n, Double(voluntarySwitches) / n, unit)
    }

    /// "cpu NS VOLUNTARY INVOLUNTARY", the line a child prints for its parent.
    var line: String { "cpu \(nanoseconds) \(voluntarySwitches) \(involuntarySwitches)" }

    init(nanoseconds: UInt64 = 0, voluntarySwitches: Int = 0, involuntarySwitches: Int = 0) {
        (self.nanoseconds, self.voluntarySwitches, self.involuntarySwitches) = (nanoseconds, voluntarySwitches, involuntarySwitches)
    }

    /// Parses `line`.
    init?(line: Substring) {
        let fields = line.split(separator: " ")
        guard fields.count == 4, fields[0] == "cpu", let ns = UInt64(fields[1]), let v = Int(fields[2]), let i = Int(fields[3])
        else { return nil }
        self.init(nanoseconds: ns, voluntarySwitches: v, involuntarySwitches: i)
    }
}

private func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: 4096)
    let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count > 0 else { return nil }
    return String(decoding: bytes[..<count], as: UTF8.self)
}

private extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var result = self
        while let first = result.first, set.contains(first) { result = result.dropFirst() }
        while let last = result.last, set.contains(last) { result = result.dropLast() }
        return result
    }
}
