import Foundation

/// One line of results: what was measured, its headline figure, the spread, and the same as JSON.
struct Row {
    let name: String
    let figure: String
    let spread: String
    let what: String
    /// JSON object fields (already encoded values).
    let json: [(String, String)]

    /// `clients`: how many client processes ran it at once (1: this process alone).
    init(_ result: Result, clients: Int = 1) {
        let unit = result.workload.unit.rawValue
        name = result.workload.name
        figure = "\(Report.format(result.median)) \(unit)"
        spread = "\(Report.format(result.rates.first!)) … \(Report.format(result.rates.last!))"
        what = result.workload.summary + (clients > 1
            ? "; \(clients) client processes at once, aggregate: all their ops / first start to last finish"
            : "")
        json = [("unit", "\"\(unit)\""), ("median", "\(result.median)"), ("min", "\(result.rates.first!)"),
                ("max", "\(result.rates.last!)"), ("repetitions", "\(result.rates.count)"), ("clients", "\(clients)")]
    }

    init(name: String, figure: String, spread: String, what: String, json: [(String, String)]) {
        (self.name, self.figure, self.spread, self.what, self.json) = (name, figure, spread, what, json)
    }
}

/// Formats results for people (a table) or programs (JSON).
enum Report {
    static func table(_ rows: [Row], machine: String, store: String) -> String {
        var lines = ["machine: \(machine)", "store: \(store)"]
        if !rows.isEmpty { lines += ["", pad("workload", 18) + pad("median", 16) + pad("spread", 26) + "what"] }
        for row in rows { lines.append(pad(row.name, 18) + pad(row.figure, 16) + pad(row.spread, 26) + row.what) }
        return lines.joined(separator: "\n")
    }

    /// The --compare-arrow section: per workload the Arrow-dialect medians against both stores, their
    /// ratio, and our native dialect's median from the same alternating runs.
    static func comparison(_ lines: [ArrowComparison.Line], arrowServer: String, memory: String) -> String {
        guard let first = lines.first else { return "" }
        var text = [
            "", "", "Arrow dialect: one Swift Arrow-dialect client against our store and against \(arrowServer) (-m \(memory));",
            "runs alternate ours (Arrow) / Arrow's / ours (native), \(first.theirs.count) repetitions each after a warm-up; medians.", "",
            pad("workload", 18) + pad("ours (Arrow)", 36) + pad("Arrow 11 store", 18) + pad("ours/Arrow", 12) + pad("ours (native)", 18) + "Arrow requests",
        ]
        for line in lines {
            let ours: String
            switch line.ours {
            case .success: ours = "\(format(line.ourMedian!)) \(line.unit)"
            case .failure(let reason): ours = "ours: \(reason.text)"
            }
            text.append(
                pad(line.workload.name, 18) + pad(ours, 36) + pad("\(format(line.theirMedian)) \(line.unit)", 18)
                    + pad(line.ratio.map { String(format: "%.2fx", $0) } ?? "—", 12)
                    + pad("\(format(line.nativeMedian)) \(line.unit)", 18) + line.workload.requests)
        }
        return text.joined(separator: "\n")
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
