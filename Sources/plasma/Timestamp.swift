import Glibc

/// The wall-clock time now, as `plasma watch` stamps its lines: ISO 8601 in UTC with milliseconds,
/// `2026-01-31T12:00:00.123Z`, which sorts as text and means the same on every machine.
enum Timestamp {
    static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var utc = tm()
        guard gmtime_r(&seconds, &utc) != nil else { return "unknown-time" }
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &utc)
        let milliseconds = spec.tv_nsec / 1_000_000
        let fraction = milliseconds < 10 ? "00\(milliseconds)" : milliseconds < 100 ? "0\(milliseconds)" : "\(milliseconds)"
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) + ".\(fraction)Z"
    }
}
