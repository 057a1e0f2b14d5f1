import ArgumentParser
import Foundation
import Glibc
import PlasmaClient
import PlasmaCore
import PlasmaToolSupport

/// `plasma watch [ID …]`: streams seal, delete, evict and abort events as they happen.
struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print seal, delete, evict and abort events as they happen, one line each, until interrupted.",
        discussion: """
            With ids, only those objects (an id already sealed is reported at once); with --prefix, every id \
            that starts with those hex bytes; with neither, every object. The store sends only the events \
            asked for. A line "overflow dropped=N" means events were dropped because this reader fell behind: \
            resynchronise with 'plasma list'. Each line starts with the time it was received, in UTC \
            (2026-01-31T12:00:00.123Z); with --json it is the "time" member.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Option(help: ArgumentHelp("Watch every id that starts with these hex bytes (2 to 40 hex digits).", valueName: "hex"))
    var prefix: String?

    @Flag(help: "One JSON object per line instead of text.")
    var json = false

    @Argument(help: ArgumentHelp("Ids to watch (40 hex digits each).", valueName: "id"))
    var ids: [String] = []

    func validate() throws {
        guard prefix == nil || ids.isEmpty else { throw ValidationError("give ids or --prefix, not both") }
        for id in ids where ObjectID(hex: id) == nil {
            throw ValidationError("'\(id)' is not an object id (40 hex digits)")
        }
        if let prefix, prefixBytes(prefix) == nil {
            throw ValidationError("--prefix '\(prefix)' must be 2 to 40 hex digits, an even number of them")
        }
    }

    func run() throws {
        let client: AsyncPlasmaClient
        do {
            client = try AsyncPlasmaClient(socketPath: connection.socketPath, name: "plasma watch", trust: connection.trust)
        } catch {
            throw CLIError(error, doing: "watch")
        }
        let events: PlasmaStream<ObjectEvent>
        if let prefix {
            events = client.events(prefix: prefixBytes(prefix)!)
        } else if ids.isEmpty {
            events = client.allEvents()
        } else {
            events = client.events(for: ids.map { ObjectID(hex: $0)! })
        }
        let json = json
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                for try await event in events { Self.print(event, json: json) }
            } catch {
                outcome.error = error
            }
            done.signal()
        }
        done.wait()
        if let error = outcome.error as? PlasmaClientError { throw CLIError(error, doing: "watch") }
        if let error = outcome.error { throw CLIError(.failure, "watch: \(error)") }
    }

    private func prefixBytes(_ hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard (2...40).contains(digits.count), digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    /// One line per event, stamped with the time it arrived here and flushed at once, so that a pipe
    /// sees it as it happens.
    static func print(_ event: ObjectEvent, json: Bool) {
        let time = Timestamp.now()
        let line: String
        switch (event, json) {
        case (.sealed(let id, let data, let metadata), false): line = "\(time) sealed \(id.hex) data=\(data) metadata=\(metadata)"
        case (.sealed(let id, let data, let metadata), true):
            line = #"{"time":"\#(time)","event":"sealed","id":"\#(id.hex)","data_size":\#(data),"metadata_size":\#(metadata)}"#
        case (.overflow(let dropped), false): line = "\(time) overflow dropped=\(dropped)"
        case (.overflow(let dropped), true): line = #"{"time":"\#(time)","event":"overflow","dropped":\#(dropped)}"#
        case (_, false): line = "\(time) \(name(of: event)) \(event.id!.hex)"
        case (_, true): line = #"{"time":"\#(time)","event":"\#(name(of: event))","id":"\#(event.id!.hex)"}"#
        }
        Swift.print(line)
        fflush(nil)  // all output streams: stdout is a global Swift 6 won't let us name
    }

    static func name(of event: ObjectEvent) -> String {
        switch event {
        case .sealed: "sealed"
        case .deleted: "deleted"
        case .evicted: "evicted"
        case .aborted: "aborted"
        case .overflow: "overflow"
        }
    }
}

/// Carries the watch loop's ending error to the main thread.
private final class Outcome: @unchecked Sendable {
    // @unchecked: written once by the task before `signal()`, read after `wait()`.
    var error: (any Error)?
}
