/// Just enough JSON to print, with keys in the order given: the one JSON writer of the command-line
/// tools (`plasma` and `plasma-bench`), which Foundation's encoders can't give a member order.
public indirect enum JSON: Sendable {
    /// A string, escaped when rendered.
    case string(String)
    /// An integer.
    case int(Int64)
    /// A number, rendered as Swift's shortest round-trip form.
    case double(Double)
    /// true or false.
    case bool(Bool)
    /// null.
    case null
    /// An array.
    case array([JSON])
    /// An object, its members in the order given.
    case object([(String, JSON)])

    /// Arrays of objects one object per line; an object alone is pretty-printed one key per line.
    public func rendered(indent: Int) -> String {
        let pad = String(repeating: "  ", count: indent)
        let inner = String(repeating: "  ", count: indent + 1)
        switch self {
        case .string(let text): return Self.quoted(text)
        case .int(let value): return String(value)
        case .double(let value): return value.isFinite ? String(value) : "null"
        case .bool(let value): return value ? "true" : "false"
        case .null: return "null"
        case .array(let items):
            if items.isEmpty { return "[]" }
            return "[\n" + items.map { inner + $0.compact }.joined(separator: ",\n") + "\n\(pad)]"
        case .object(let members):
            if members.isEmpty { return "{}" }
            return "{\n" + members.map { "\(inner)\(Self.quoted($0.0)): \($0.1.rendered(indent: indent + 1))" }
                .joined(separator: ",\n") + "\n\(pad)}"
        }
    }

    /// On one line.
    public var compact: String {
        switch self {
        case .array(let items): return "[" + items.map(\.compact).joined(separator: ", ") + "]"
        case .object(let members): return "{" + members.map { "\(Self.quoted($0.0)): \($0.1.compact)" }.joined(separator: ", ") + "}"
        default: return rendered(indent: 0)
        }
    }

    /// `text` as a JSON string literal: quotes, backslashes and control characters escaped.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
