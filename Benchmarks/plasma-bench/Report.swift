import Foundation

/// One line of results: what was measured, its headline figure, the spread, and the same as JSON.
struct Row {
    let name: String
    let figure: String
    let spread: String
    let what: String
    /// JSON object fields (already encoded values).
    let json: [(String, String)]

    init(_ result: Result) {
        let unit = result.workload.unit.rawValue
        name = result.workload.name
        figure = "\(Report.format(result.median)) \(unit)"
        spread = "\(Report.format(result.rates.first!)) … \(Report.format(result.rates.last!))"
        what = result.workload.summary
        json = [("unit", "\"\(unit)\""), ("median", "\(result.median)"), ("min", "\(result.rates.first!)"),
                ("max", "\(result.rates.last!)"), ("repetitions", "\(result.rates.count)")]
    }

    init(name: String, figure: String, spread: String, what: String, json: [(String, String)]) {
        (self.name, self.figure, self.spread, self.what, self.json) = (name, figure, spread, what, json)
    }
}

/// Formats results for people (a table) or programs (JSON).
enum Report {
    static func table(_ rows: [Row], machine: String, store: String) -> String {
        var lines = ["machine: \(machine)", "store: \(store)", ""]
        lines.append(pad("workload", 18) + pad("median", 16) + pad("spread", 26) + "what")
        for row in rows { lines.append(pad(row.name, 18) + pad(row.figure, 16) + pad(row.spread, 26) + row.what) }
        return lines.joined(separator: "\n")
    }

    static func json(_ rows: [Row]) -> String {
        let objects = rows.map { row in
            "{" + ([("workload", "\"\(row.name)\"")] + row.json).map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
        }
        return "[" + objects.joined(separator: ",") + "]"
    }

    static func format(_ value: Double) -> String {
        value >= 1000 ? String(format: "%.1fK", value / 1000) : String(format: "%.2f", value)
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}

enum Machine {
    static func describe() -> String {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let memory = Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30)
        return "\(cores) cores, \(String(format: "%.0f", memory)) GiB"
    }
}
