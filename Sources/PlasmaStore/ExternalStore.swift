import Logging
import PlasmaCore
import PlasmaEngine
import PlasmaPosix

/// Where evicted objects go when the store runs with `--external-store` (Arrow's `-e`): instead of
/// being dropped, an evicted object's bytes move here and come back transparently on the next get.
/// The engine's spill sink: the engine decides what to spill and when; this does the I/O. Used only from
/// the event-loop thread. Failures are returned as false; the engine counts them (`spill_failures`,
/// `restore_failures`) and the store logs why.
protocol ExternalStore: SpillSink {
    /// The store is stopping: drop everything (spilled objects live as long as the store).
    func removeAll()
}

/// `hashtable://NAME`: Arrow 11's only built-in external store, an in-process map (the name is ignored).
/// Evicted bytes leave the shared arena for the store's private heap, which `--memory` doesn't bound.
final class HashtableExternalStore: ExternalStore {
    private var objects: [ObjectID: [UInt8]] = [:]

    func spill(_ id: ObjectID, _ bytes: UnsafeRawBufferPointer, dataSize: Int) -> Bool {
        objects[id] = Array(bytes)
        return true
    }

    func restore(_ id: ObjectID, into buffer: UnsafeMutableRawBufferPointer, dataSize: Int) -> Bool {
        guard let bytes = objects.removeValue(forKey: id), bytes.count == buffer.count else { return false }
        bytes.withUnsafeBytes { if $0.count > 0 { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        return true
    }

    func discard(_ id: ObjectID) { objects[id] = nil }
    func removeAll() { objects.removeAll() }
}

/// `file:///DIR`: one file per evicted object in DIR, named by the id in hex and removed when the
/// object comes back, is deleted, or the store stops. Memory stays bounded by `--memory`; the disk
/// holds the rest. DIR is the store's own (SpillDirectory checks it, and makes it mode 0700 if
/// missing), and every file carries a header and checksum that a restore verifies. Each failure is a
/// warning in the log, at most `warningBurst` a minute plus a count of the rest.
final class FileExternalStore: ExternalStore {
    static let warningBurst = 10
    let directory: SpillDirectory
    private var files: Set<ObjectID> = []
    private let logger: Logger
    private var warnings = WarningRateLimit(burst: warningBurst, intervalNanoseconds: 60_000_000_000)

    init(directory: String, logger: Logger) throws(SpillDirectoryError) {
        self.directory = try SpillDirectory(path: directory)
        self.logger = logger
    }

    private func name(_ id: ObjectID) -> String { "\(id.hex).plasma-spill" }

    func spill(_ id: ObjectID, _ bytes: UnsafeRawBufferPointer, dataSize: Int) -> Bool {
        do {
            try directory.write(name(id), key: id.bytes, dataSize: dataSize, body: bytes)
        } catch {
            warn("spilling object \(id.hex) to \(directory.path) failed, so it is dropped: \(error)")
            return false
        }
        files.insert(id)
        return true
    }

    func restore(_ id: ObjectID, into buffer: UnsafeMutableRawBufferPointer, dataSize: Int) -> Bool {
        guard files.contains(id) else {
            warn("restoring object \(id.hex) failed: the store has no spill file for it")  // books out of step
            return false
        }
        defer { discard(id) }  // restored or not, the file has served
        do {
            try directory.read(name(id), key: id.bytes, dataSize: dataSize, into: buffer)
            return true
        } catch {
            warn("restoring object \(id.hex) from \(directory.path) failed, so it is deleted: \(error)")
            return false
        }
    }

    func discard(_ id: ObjectID) {
        guard files.remove(id) != nil else { return }
        directory.remove(name(id))
    }

    func removeAll() {
        for id in files { directory.remove(name(id)) }
        files.removeAll()
        let suppressed = warnings.takeSuppressed()
        if suppressed > 0 { logger.warning("\(suppressed) more spill or restore failures were not logged") }
    }

    private func warn(_ message: @autoclosure () -> String) {
        let decision = warnings.admit(now: MonotonicClock.nanoseconds())
        if decision.suppressedBefore > 0 {
            logger.warning("\(decision.suppressedBefore) more spill or restore failures in the last minute were not logged")
        }
        if decision.log { logger.warning("\(message())") }
    }
}

/// Parses `--external-store`: `hashtable://NAME` or `file:///ABSOLUTE/DIR`.
public enum ExternalStoreURL {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Checks the URL without creating anything; the reason when it is not one of the two forms.
    public static func validate(_ url: String) -> Invalid? {
        if url.hasPrefix("hashtable://") { return nil }
        if url.hasPrefix("file://") {
            let path = String(url.dropFirst("file://".count))
            return path.hasPrefix("/") && path.count > 1 ? nil
                : Invalid(description: "'\(url)': a file external store needs an absolute directory, e.g. file:///var/tmp/plasma-spill")
        }
        return Invalid(description: "'\(url)': unknown external store; use hashtable://NAME or file:///DIR")
    }

    /// Opens the store; for `file://`, makes or checks its directory and proves it writable.
    static func open(_ url: String, logger: Logger) throws(ServerError) -> ExternalStore {
        if let invalid = validate(url) { throw .invalidExternalStore(invalid.description) }
        if url.hasPrefix("hashtable://") { return HashtableExternalStore() }
        do {
            return try FileExternalStore(directory: String(url.dropFirst("file://".count)), logger: logger)
        } catch {
            throw .invalidExternalStore("'\(url)': \(error)")
        }
    }
}
