import ArgumentParser
import PlasmaCore
import PlasmaToolSupport

/// `plasma stats`: the store's counters.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show the store's statistics.",
        discussion: """
            Three groups: settings (fixed when the store started), gauges (how things are now; they go \
            up and down) and counters (running totals since the store started; only grow: take two \
            readings for a rate). The table gives sizes in a human form with the exact byte count beside \
            them. --json prints one object with a member per group, "settings", "gauges" and "counters", \
            each keyed by the field names of the table with exact integers.
            """)

    /// Fields that count bytes, shown as `64.0 MiB (67108864 bytes)`.
    static let byteFields: Set<String> = [
        "capacity", "arena_size", "bytes_in_use", "arena_bytes_allocated", "evictable_bytes", "evicted_bytes",
        "largest_free_block", "spilled_bytes", "restored_bytes",
        "client_state_budget", "client_state_used", "client_state_inbound", "client_state_replies",
        "client_state_waiting_gets", "client_state_waiting_creates", "client_state_events",
        "client_state_arrow_notifications", "arena_populated_bytes",
    ]

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print a JSON object with exact numbers instead of a table.")
    var json = false

    func run() throws {
        let client = try connection.connect("plasma stats")
        let statistics: StoreStatistics
        do {
            statistics = try client.statistics()
        } catch {
            throw CLIError(error, doing: "stats")
        }
        let groups = Self.grouped(statistics)
        if json {
            print(JSON.object(groups.map { kind, fields in
                (kind.rawValue + "s", JSON.object(fields.map { ($0.name, .int($0.value)) }))
            }).rendered(indent: 0))
        } else {
            let rows = groups.flatMap { kind, fields in
                [["", ""], [Self.heading(kind), ""]] + fields.map { ["  " + $0.name, Self.human($0.name, $0.value)] }
            }.dropFirst()  // no blank line before the first group
            let table = Table(header: ["FIELD", "VALUE"]).render(Array(rows))
            print(table.split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.reversed().drop { $0 == " " }.reversed() }.map { String($0) }.joined(separator: "\n"))
        }
    }

    /// The fields by kind, each group in wire order: settings, gauges, counters.
    static func grouped(_ statistics: StoreStatistics) -> [(StoreStatistics.FieldKind, [(name: String, value: Int64)])] {
        let fields = zip(StoreStatistics.fieldNames, statistics.fieldValues).map { (name: $0, value: $1) }
        return StoreStatistics.FieldKind.allCases.map { kind in
            (kind, fields.filter { StoreStatistics.kind(of: $0.name) == kind })
        }
    }

    static func heading(_ kind: StoreStatistics.FieldKind) -> String {
        switch kind {
        case .setting: "settings (fixed at start)"
        case .gauge: "gauges (now)"
        case .counter: "counters (totals since start)"
        }
    }

    static func human(_ name: String, _ value: Int64) -> String {
        if byteFields.contains(name) {
            return value < 1024 ? "\(value) B" : "\(ByteCount.format(Int(value))) (\(value) bytes)"
        }
        if name.hasSuffix("_permille") {
            return "\(Double(value) / 10)% (\(value) permille)"
        }
        return String(value)
    }
}
