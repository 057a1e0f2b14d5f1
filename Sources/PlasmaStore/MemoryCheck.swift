import Glibc

/// Refuses an arena the machine can't hold before prefaulting it: past available memory the kernel's
/// OOM killer ends the store (SIGKILL) long before `MADV_POPULATE_WRITE` could report ENOMEM.
enum MemoryCheck {
    /// - Parameter hugepages: the arena may come from the hugepage pool, which MemAvailable doesn't
    ///   count, so free hugepages count as available too (the arena falls back to normal pages when the
    ///   pool is short, so either kind may hold it).
    static func ensureAvailable(_ bytes: Int, hugepages: Bool) throws(ServerError) {
        let fields = meminfo()
        guard let memAvailable = fields["MemAvailable"] else { return }
        var available = memAvailable
        if hugepages, let free = fields["HugePages_Free"], let pageSize = fields["Hugepagesize"] {
            available = max(available, free * pageSize)  // HugePages_Free is a count, Hugepagesize kB
        }
        guard bytes > available else { return }
        throw .insufficientMemory(requested: bytes, available: available)
    }

    /// /proc/meminfo as name → value; values given in kB are converted to bytes. Empty when unreadable.
    static func meminfo() -> [String: Int] {
        guard let file = fopen("/proc/meminfo", "r") else { return [:] }
        defer { fclose(file) }
        var fields: [String: Int] = [:]
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let parts = text.split(whereSeparator: { $0 == ":" || $0 == " " || $0 == "\n" })
            guard parts.count >= 2, let value = Int(parts[1]) else { continue }
            fields[String(parts[0])] = parts.count >= 3 && parts[2] == "kB" ? value * 1024 : value
        }
        return fields
    }
}
