import ArgumentParser
import PlasmaCore
import PlasmaToolSupport

/// `plasma stats`: the store's counters.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show the store's statistics.",
        discussion: """
            The table gives sizes in a human form with the exact byte count beside them. --json prints \
            one object with the exact integers, keyed by the field names of the table.
            """)

    /// Fields that count bytes, shown as `64.0 MiB (67108864 bytes)`.
    static let byteFields: Set<String> = [
        "capacity", "arena_size", "bytes_in_use", "arena_bytes_allocated", "evictable_bytes", "evicted_bytes",
        "largest_free_block", "spilled_bytes", "restored_bytes",
        "client_state_budget", "client_state_used", "client_state_inbound", "client_state_replies",
        "client_state_waiting_gets", "client_state_waiting_creates", "client_state_events",
        "client_state_arrow_notifications",
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
        let fields = Array(zip(StoreStatistics.fieldNames, statistics.fieldValues))
        if json {
            print(JSON.object(fields.map { ($0.0, .int($0.1)) }).rendered(indent: 0))
        } else {
            print(Table(header: ["FIELD", "VALUE"]).render(fields.map { [$0.0, Self.human($0.0, $0.1)] }))
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
