import ArgumentParser
import Glibc
import PlasmaCore
import PlasmaToolSupport

/// `plasma list`: every object in the store.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the objects in the store, oldest first.",
        discussion: """
            The table shows each object's id, state (created = not sealed yet, sealed, or deleting = a \
            delete waits for the last reference), data size, metadata size, references, age and the time \
            from create to seal. --json prints an array of objects with exact numbers: id, state, \
            data_size, metadata_size, ref_count, delete_pending, created_at_ns (nanoseconds since the \
            Unix epoch), age_ns, seal_duration_ns (null while unsealed).
            """)

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print a JSON array with exact numbers instead of a table.")
    var json = false

    func run() throws {
        let client = try connection.connect("plasma list")
        let objects: [ObjectInfo]
        do {
            objects = try client.listWithOrigins()
        } catch .disconnected {
            // A store older than the list's row format (docs/PROTOCOL.md, "12 list") takes the request
            // for malformed and closes the connection: ask it again the old way, rows without origins.
            let again = try connection.connect("plasma list")
            do {
                objects = try again.list()
            } catch {
                throw CLIError(error, doing: "list")
            }
        } catch {
            throw CLIError(error, doing: "list")
        }
        let now = wallClockNanoseconds()
        print(json ? Self.json(objects, now: now) : Self.table(objects, now: now))
    }

    static func state(_ info: ObjectInfo) -> String {
        if info.deletePending { return "deleting" }
        return info.state == .sealed ? "sealed" : "created"
    }

    static func table(_ objects: [ObjectInfo], now: Int64) -> String {
        let rows = objects.map { info in
            [
                info.id.hex, state(info), ByteCount.format(info.dataSize), ByteCount.format(info.metadataSize),
                String(info.referenceCount), Duration.compact(nanoseconds: Double(now - info.createdAtNanoseconds)),
                info.sealDurationNanoseconds < 0 ? "-" : Duration.compact(nanoseconds: Double(info.sealDurationNanoseconds)),
                info.origin ?? "-",
            ]
        }
        return Table(
            header: ["ID", "STATE", "SIZE", "METADATA", "REFS", "AGE", "SEAL TIME", "ORIGIN"],
            rightAligned: [2, 3, 4, 5, 6]
        ).render(rows)
    }

    static func json(_ objects: [ObjectInfo], now: Int64) -> String {
        let items = objects.map { info in
            JSON.object([
                ("id", .string(info.id.hex)),
                ("state", .string(info.state == .sealed ? "sealed" : "created")),
                ("data_size", .int(Int64(info.dataSize))),
                ("metadata_size", .int(Int64(info.metadataSize))),
                ("ref_count", .int(Int64(info.referenceCount))),
                ("delete_pending", .bool(info.deletePending)),
                ("created_at_ns", .int(info.createdAtNanoseconds)),
                ("age_ns", .int(max(0, now - info.createdAtNanoseconds))),
                ("seal_duration_ns", info.sealDurationNanoseconds < 0 ? .null : .int(info.sealDurationNanoseconds)),
                ("origin", info.origin.map { .string($0) } ?? .null),
            ])
        }
        return JSON.array(items).rendered(indent: 0)
    }
}

func wallClockNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
