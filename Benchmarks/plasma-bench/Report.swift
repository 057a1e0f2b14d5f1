import Foundation
import PlasmaToolSupport

/// One line of results: what was measured, its headline figure, the spread, and the same as JSON.
struct Row {
    let name: String
    let figure: String
    let spread: String
    let what: String
    /// JSON object fields (already encoded values).
    let json: [(String, String)]
    /// The headline value and the machine limit it is set against (none for rows without one).
    var limited: LimitedFigure?
    /// Put rows: the same value against the N-thread copy limit of the same run.
    var parallelLimited: LimitedFigure?

    /// `clients`: how many client processes ran it at once (1: this process alone).
    init(_ result: Result, clients: Int = 1) {
        let unit = result.workload.unit.rawValue
        name = result.workload.name
        figure = "\(Report.format(result.median)) \(unit)"
        spread = "\(Report.format(result.rates.first!)) … \(Report.format(result.rates.last!))"
        var summary = result.workload.summary + (clients > 1
            ? "; \(clients) client processes at once, aggregate: all their ops / first start to last finish"
            : "")
        var fields = [("unit", "\"\(unit)\""), ("median", "\(result.median)"), ("min", "\(result.rates.first!)"),
                      ("max", "\(result.rates.last!)"), ("repetitions", "\(result.rates.count)"), ("clients", "\(clients)")]
        if let perClient = result.perClient {
            let median = perClient[perClient.count / 2]
            summary += "; per client: median \(Report.format(median)) \(unit) (\(Report.format(perClient.first!)) … \(Report.format(perClient.last!)), each client's own ops / its own time)"
            fields += [("per_client_median", "\(median)"), ("per_client_min", "\(perClient.first!)"), ("per_client_max", "\(perClient.last!)")]
        }
        limited = result.workload.limit.flatMap { kind in
            result.limitSamples.isEmpty ? nil : LimitedFigure(kind: kind, value: result.median, samples: result.limitSamples)
        }
        parallelLimited = result.workload.parallelLimit.flatMap { kind in
            result.parallelLimitSamples.isEmpty ? nil
                : LimitedFigure(kind: kind, value: result.median, samples: result.parallelLimitSamples)
        }
        if let parallel = parallelLimited, case .parallelCopy(_, let threads) = parallel.kind {
            summary += String(format: "; the client copied on %d thread(s); %d-thread copy limit %@: ratio %.2f",
                              CopySource.parallelCopy.threads, threads, parallel.limitText, parallel.ratio)
        }
        (what, json) = (summary, fields)
    }

    init(
        name: String, figure: String, spread: String, what: String, json: [(String, String)], limited: LimitedFigure? = nil,
        parallelLimited: LimitedFigure? = nil
    ) {
        (self.name, self.figure, self.spread, self.what, self.json, self.limited) = (name, figure, spread, what, json, limited)
        self.parallelLimited = parallelLimited
    }

    /// The limit and ratio columns (empty when the row has no limit).
    var limitColumns: (limit: String, ratio: String) {
        guard let limited else { return ("", "") }
        return (limited.limitText, String(format: "%.2f", limited.ratio))
    }

    /// The JSON fields, with the table's figure, spread and description, and the limit and ratio when
    /// the row has one.
    var jsonFields: [(String, String)] {
        let text = [("figure", figure), ("spread", spread), ("what", what)].filter { !$0.1.isEmpty }
        return json + text.map { ($0.0, Report.jsonString($0.1)) } + (limited?.json() ?? [])
            + (parallelLimited?.json(prefix: "parallel_") ?? [])
            + (parallelLimited == nil ? [] : [("copy_threads", "\(CopySource.parallelCopy.threads)")])
    }
}

/// Formats results for people (a table) or programs (JSON).
enum Report {
    static func table(_ rows: [Row], machine: String, store: String) -> String {
        var lines = ["machine: \(machine)", "store: \(store)"]
        if !rows.isEmpty {
            lines += ["", pad("workload", 21) + pad("median", 16) + pad("spread", 26) + pad("limit (same run)", 18) + pad("ratio", 7) + "what"]
        }
        for row in rows {
            let (limit, ratio) = row.limitColumns
            lines.append(pad(row.name, 21) + pad(row.figure, 16) + pad(row.spread, 26) + pad(limit, 18) + pad(ratio, 7) + row.what)
        }
        if rows.contains(where: { $0.limited != nil }) { lines += ["", limitNote] }
        return lines.joined(separator: "\n")
    }

    static let limitNote = """
        limit: the machine's own, measured before each repetition of the row (median of those samples): copy of the \
        object's size into populated shared memory by one thread's memmove (puts; their "what" adds the same copy on \
        N threads, as the client's write does it, and the ratio to it), read of it (gets); for the transfer rows, the object's size \
        over loopback TCP, sendfile from a populated memfd → recv into a populated mapping; for ops/s rows, one request per 32 B \
        Unix-socket round trip between two processes that both poll (p50 of \(MachineLimits.roundTrips); put-small \
        and get-small make two round trips per operation); for the wake rows, that round trip with both sides \
        sleeping in read (as Benchmarks/limits.sh measures it). ratio: median / limit; for us rows, latency / \
        round trip (lower is better).
        """

    /// The --compare-arrow section: per workload the Arrow-dialect medians against both stores, their
    /// ratio, and our native dialect's median from the same alternating runs.
    /// The last column sets our native median against its limit, sampled between the repetitions.
    static func comparison(_ lines: [ArrowComparison.Line], arrowServer: String, memory: String) -> String {
        guard let first = lines.first else { return "" }
        var text = [
            "", "", "Arrow dialect: one Swift Arrow-dialect client against our store and against \(arrowServer) (-m \(memory));",
            "runs alternate ours (Arrow) / Arrow's / ours (native), \(first.theirs.count) repetitions each after a warm-up; medians.", "",
            pad("workload", 18) + pad("ours (Arrow)", 36) + pad("Arrow 11 store", 18) + pad("ours/Arrow", 12) + pad("ours (native)", 18) + pad("native/limit", 24) + "Arrow requests",
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
                    + pad("\(format(line.nativeMedian)) \(line.unit)", 18)
                    + pad(line.limited.map { String(format: "%.2f of %@", $0.ratio, $0.limitText) } ?? "", 24)
                    + (line.parallelLimited.map { String(format: "(%.2f of %@, N threads) ", $0.ratio, $0.limitText) } ?? "")
                    + (line.workload.arrowRequests ?? ""))
        }
        return text.joined(separator: "\n")
    }

    static func json(_ rows: [Row]) -> String {
        let objects = rows.map { row in
            "{" + ([("workload", "\"\(row.name)\"")] + row.jsonFields).map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
        }
        return "[" + objects.joined(separator: ",") + "]"
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String { JSON.quoted(text) }

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
