import Glibc
import Logging

/// The daemon's log lines on standard error: `2026-01-31T12:00:00+0000 info plasma-store: message`.
///
/// swift-log's StreamLogHandler also prints each line's `source`, the Swift module that logged it, so
/// the daemon's lines came out as `[plasma_store]` or `[PlasmaStore]` depending on which of its two
/// modules spoke: one daemon, one label.
struct DaemonLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let fields = metadata.merging(event.metadata ?? [:]) { $1 }
        let pretty = fields.isEmpty ? "" : " " + fields.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ")
        var line = "\(Self.timestamp()) \(event.level) \(label):\(pretty) \(event.message)\n"
        // One write per line, so that lines from two threads never interleave.
        line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    private static func timestamp() -> String {
        var now = time(nil)
        var local = tm()
        guard localtime_r(&now, &local) != nil else { return "<unknown>" }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) { strftime($0.baseAddress, $0.count, "%Y-%m-%dT%H:%M:%S%z", &local) }
        }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}
