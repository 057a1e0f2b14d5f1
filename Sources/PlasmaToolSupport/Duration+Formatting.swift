/// The one way the command-line tools (plasma, plasma-store, plasma-bench) show and count durations.
extension Duration {
    /// The duration in seconds, as a `Double` (what rates and bandwidths divide by).
    public var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// A short form for durations a person reads: `250ms`, `2.5s`, `3m05s`, `2h07m`, `4d03h`.
    public var compact: String {
        Self.compact(nanoseconds: inSeconds * 1e9)
    }

    /// The short form of a count of nanoseconds (negative counts as 0).
    public static func compact(nanoseconds: Double) -> String {
        let value = max(0, nanoseconds)
        func rounded(_ x: Double) -> String {
            let text = String((x * 10).rounded() / 10)
            return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
        }
        if value < 1e3 { return "\(Int(value))ns" }
        if value < 1e6 { return "\(rounded(value / 1e3))µs" }
        if value < 1e9 { return "\(rounded(value / 1e6))ms" }
        let seconds = Int(value / 1e9)
        if seconds < 60 { return "\(rounded(value / 1e9))s" }
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        if seconds < 3600 { return "\(seconds / 60)m\(two(seconds % 60))s" }
        if seconds < 86400 { return "\(seconds / 3600)h\(two(seconds % 3600 / 60))m" }
        return "\(seconds / 86400)d\(two(seconds % 86400 / 3600))h"
    }
}
