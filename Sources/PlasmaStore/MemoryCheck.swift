import Glibc

/// Refuses an arena the machine can't hold before prefaulting it: past available memory the kernel's
/// OOM killer ends the store (SIGKILL) long before `MADV_POPULATE_WRITE` could report ENOMEM.
enum MemoryCheck {
    static func ensureAvailable(_ bytes: Int) throws(ServerError) {
        guard let available = availableBytes(), bytes > available else { return }
        throw .insufficientMemory(requested: bytes, available: available)
    }

    /// MemAvailable from /proc/meminfo, nil when it can't be read.
    static func availableBytes() -> Int? {
        guard let file = fopen("/proc/meminfo", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard text.hasPrefix("MemAvailable:") else { continue }
            let kilobytes = text.split(separator: " ").compactMap { Int($0) }.first
            return kilobytes.map { $0 * 1024 }
        }
        return nil
    }
}
