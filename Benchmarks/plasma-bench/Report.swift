import Foundation

/// Formats results for people (a table) or programs (JSON).
enum Report {
    static func table(
        _ results: [Result], latencies: [(String, WakeBenchmark.Latencies)], machine: String, store: String
    ) -> String {
        var lines = ["machine: \(machine)", "store: \(store)", ""]
        lines.append(pad("workload", 18) + pad("median", 14) + pad("min … max", 26) + "what")
        for result in results {
            let unit = result.workload.unit.rawValue
            lines.append(
                pad(result.workload.name, 18) + pad("\(format(result.median)) \(unit)", 14)
                    + pad("\(format(result.rates.first!)) … \(format(result.rates.last!))", 26)
                    + result.workload.summary)
        }
        for (name, latency) in latencies {
            lines.append(
                pad(name, 18) + pad(String(format: "p50 %.1f us", latency.percentile(0.5)), 14)
                    + pad(String(format: "p99 %.1f us", latency.percentile(0.99)), 26)
                    + "seal in one process to get returning in another (\(latency.nanoseconds.count) seals)")
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ results: [Result], latencies: [(String, WakeBenchmark.Latencies)]) -> String {
        let entries = results.map { result in
            "{\"workload\":\"\(result.workload.name)\",\"unit\":\"\(result.workload.unit.rawValue)\","
                + "\"median\":\(result.median),\"min\":\(result.rates.first!),\"max\":\(result.rates.last!),"
                + "\"repetitions\":\(result.rates.count)}"
        }
        let wakes = latencies.map { name, latency in
            "{\"workload\":\"\(name)\",\"unit\":\"us\",\"p50\":\(latency.percentile(0.5)),\"p99\":\(latency.percentile(0.99)),\"samples\":\(latency.nanoseconds.count)}"
        }
        return "[" + (entries + wakes).joined(separator: ",") + "]"
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
