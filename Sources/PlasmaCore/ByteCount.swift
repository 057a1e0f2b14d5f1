/// Parses and prints byte counts the way people type them: `2G`, `512M`, `1.5G`, `2GiB`, `1000000`.
///
/// Decision: single-letter suffixes (K, M, G, T) and the IEC forms (KiB, MiB, GiB, TiB) are powers of 1024,
/// as in `ulimit`, Docker and most memory flags; the SI forms with a B (KB, MB, GB, TB) are powers of 1000,
/// because that is what they mean. A bare number is bytes. Case does not matter.
public enum ByteCount {
    /// Text that ``ByteCount/parse(_:)`` can't read as a byte count.
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        /// The text as given, untrimmed, so the message quotes what the user typed.
        public let text: String
        /// What is wrong with it: `empty`, `not a number`, `a byte count must be whole` or `too large`.
        public let reason: String
        /// One line for an error message: the text, the reason and examples of what is accepted.
        public var description: String {
            "invalid size '\(text)': \(reason); write bytes or a number with a unit, e.g. 2G, 512M, 1.5G, 2GiB, 1000000"
        }
    }

    private static let units: [(suffix: String, multiplier: Double)] = [
        ("kib", 0x1p10), ("mib", 0x1p20), ("gib", 0x1p30), ("tib", 0x1p40),
        ("kb", 1e3), ("mb", 1e6), ("gb", 1e9), ("tb", 1e12),
        ("k", 0x1p10), ("m", 0x1p20), ("g", 0x1p30), ("t", 0x1p40),
        ("b", 1),
    ]

    /// The number of bytes `text` stands for, rounded down to whole bytes (`1.5K` is 1536).
    ///
    /// Surrounding whitespace and case are ignored. Throws ``ParseError`` for empty text, text that is not
    /// a number with an optional unit, a fractional count of bytes, or a size of 2⁶² bytes or more.
    public static func parse(_ text: String) throws(ParseError) -> Int {
        let trimmed = text.trimmingWhitespace().lowercased()
        guard !trimmed.isEmpty else { throw ParseError(text: text, reason: "empty") }
        var number = Substring(trimmed)
        var multiplier = 1.0
        if let unit = units.first(where: { trimmed.hasSuffix($0.suffix) }) {
            number = number.dropLast(unit.suffix.count)
            multiplier = unit.multiplier
        }
        let digits = number.trimmingWhitespace()
        guard !digits.isEmpty, digits.allSatisfy({ $0.isNumber || $0 == "." }),
              let value = Double(digits)
        else { throw ParseError(text: text, reason: "not a number") }
        if multiplier == 1, digits.contains(".") {
            throw ParseError(text: text, reason: "a byte count must be whole")
        }
        let bytes = value * multiplier
        guard bytes.isFinite, bytes < Double(Int64.max / 2) else {
            throw ParseError(text: text, reason: "too large")
        }
        return Int(bytes.rounded(.down))
    }

    /// A short human form: `2.0 GiB`, `512.0 MiB`, `17 B`.
    public static func format(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var index = 0
        while abs(value) >= 1024, index < units.count - 1 {
            value /= 1024
            index += 1
        }
        if index == 0 { return "\(bytes) B" }
        let tenths = (value * 10).rounded() / 10
        return "\(tenths) \(units[index])"
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> Substring {
        let view = Substring(self)
        guard let first = view.firstIndex(where: { !$0.isWhitespace }),
              let last = view.lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return view[first...last]
    }
}
