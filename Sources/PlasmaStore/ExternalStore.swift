import Logging
import PlasmaCore
import PlasmaEngine
import PlasmaPosix

/// Where evicted objects go when the store runs with `--external-store` (Arrow's `-e`): instead of
/// being dropped, an evicted object's bytes move here and come back transparently on the next get.
/// The engine's spill sink: the engine decides what to spill and when; this does the I/O. Called from
/// the event-loop thread only (a file store does its I/O on a thread of its own). Failures are reported to the
/// engine, which counts them (`spill_failures`, `restore_failures`); the store logs why.
protocol ExternalStore: SpillSink {
    /// Signalled when spills have finished: the loop then calls the engine's `spillsFinished()`. Nil
    /// for a store whose spills finish at once.
    var completions: EventFD? { get }
    /// The store is stopping: wait for the writes under way, then drop everything (spilled objects live
    /// as long as the store).
    func removeAll()
}

/// `hashtable://NAME`: Arrow 11's only built-in external store, an in-process map (the name is ignored).
/// Evicted bytes leave the shared arena for the store's private heap, which `--memory` doesn't bound.
/// A spill is a copy, finished at once.
final class HashtableExternalStore: ExternalStore {
    private var objects: [ObjectID: [UInt8]] = [:]
    private var finished: [SpillCompletion] = []

    var completions: EventFD? { nil }

    func beginSpill(_ id: ObjectID, _ bytes: UnsafeRawBufferPointer, dataSize: Int, ticket: UInt64) {
        objects[id] = Array(bytes)
        finished.append(SpillCompletion(ticket: ticket, succeeded: true))
    }

    func finishedSpills(waitingForAll: Bool) -> [SpillCompletion] {
        defer { finished.removeAll() }
        return finished
    }

    func restore(_ id: ObjectID, into buffer: UnsafeMutableRawBufferPointer, dataSize: Int) -> Bool {
        guard let bytes = objects.removeValue(forKey: id), bytes.count == buffer.count else { return false }
        bytes.withUnsafeBytes { if $0.count > 0 { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        return true
    }

    func beginRestore(_ id: ObjectID, into buffer: UnsafeMutableRawBufferPointer, dataSize: Int, ticket: UInt64) {
        finished.append(SpillCompletion(ticket: ticket, succeeded: restore(id, into: buffer, dataSize: dataSize)))
    }

    func discard(_ id: ObjectID) { objects[id] = nil }
    func removeAll() { objects.removeAll() }
}

/// `file:///DIR`: one file per evicted object in DIR, named by the id in hex and removed when the
/// object comes back, is deleted, or the store stops. Memory stays bounded by `--memory`; the disk
/// holds the rest. DIR is the store's own (SpillDirectory checks it, and makes it mode 0700 if
/// missing), and every file carries a header and checksum that a restore verifies. Each failure is a
/// warning in the log, at most `warningBurst` a minute plus a count of the rest.
///
/// Writes, reads and removals run on one background thread, in order (so a removal follows the write
/// it undoes), straight from and into the arena while the engine keeps the block; the thread signals
/// `completions` after each write or read. A get that won't wait restores on the loop's thread
/// (`restore`): the object's write has finished, and when a read of it was under way the engine has
/// waited for the whole queue (`finishedSpills(waitingForAll:)`), not only that read.
final class FileExternalStore: ExternalStore {
    static let warningBurst = 10
    let directory: SpillDirectory
    /// Files written and reported, not yet restored or removed.
    private var files: Set<ObjectID> = []
    /// Writes not yet reported, by ticket; `discarded`: the object was deleted or kept meanwhile (the
    /// copy is not kept); `unneeded`: a get has taken the object back (the engine keeps it).
    private var writing: [UInt64: (id: ObjectID, discarded: Bool, unneeded: Bool)] = [:]
    /// Reads not yet reported, by ticket.
    private var reading: [UInt64: ObjectID] = [:]
    /// Restores refused before any I/O (no file), reported with the next completions.
    private var refused: [SpillCompletion] = []
    private let writer: WorkerThread<(ticket: UInt64, failure: SpillFileError?)>
    let completions: EventFD?
    private let logger: Logger
    private var warnings = WarningRateLimit(burst: warningBurst, intervalNanoseconds: 60_000_000_000)

    init(directory: String, logger: Logger) throws(ServerError) {
        do {
            self.directory = try SpillDirectory(path: directory)
        } catch {
            throw .invalidExternalStore("'file://\(directory)': \(error)")
        }
        self.logger = logger
        do {
            let completions = try EventFD()
            self.completions = completions
            writer = try WorkerThread(notify: completions)
        } catch {
            throw .system(error)
        }
    }

    deinit {
        writer.stop()
        completions?.close()
    }

    private func name(_ id: ObjectID) -> String { "\(id.hex).plasma-spill" }

    func beginSpill(_ id: ObjectID, _ bytes: UnsafeRawBufferPointer, dataSize: Int, ticket: UInt64) {
        writing[ticket] = (id, false, false)
        let (directory, name, key) = (directory, name(id), id.bytes)
        writer.submit {
            do throws(SpillFileError) {
                try directory.write(name, key: key, dataSize: dataSize, body: bytes)
                return (ticket, nil)
            } catch {
                return (ticket, error)
            }
        }
    }

    func finishedSpills(waitingForAll: Bool) -> [SpillCompletion] {
        if waitingForAll { writer.waitUntilIdle() }
        let early = refused
        refused.removeAll()
        return early + writer.takeOutputs().map { ticket, failure in
            if let id = reading.removeValue(forKey: ticket) {
                if let failure { warn("restoring object \(id.hex) from \(directory.path) failed, so it is deleted: \(failure)") }
                return SpillCompletion(ticket: ticket, succeeded: failure == nil)
            }
            guard let write = writing.removeValue(forKey: ticket) else { return SpillCompletion(ticket: ticket, succeeded: false) }
            if let failure, write.discarded || write.unneeded {
                // Taken back into memory or deleted while the write ran: the failure costs no object.
                warn("spilling object \(write.id.hex) to \(directory.path) failed (the object no longer needed it): \(failure)")
            } else if let failure {
                warn("spilling object \(write.id.hex) to \(directory.path) failed, so it is dropped: \(failure)")
            } else if !write.discarded {
                files.insert(write.id)
            }
            return SpillCompletion(ticket: ticket, succeeded: failure == nil)
        }
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

    func beginRestore(_ id: ObjectID, into buffer: UnsafeMutableRawBufferPointer, dataSize: Int, ticket: UInt64) {
        guard files.remove(id) != nil else {
            warn("restoring object \(id.hex) failed: the store has no spill file for it")  // books out of step
            refused.append(SpillCompletion(ticket: ticket, succeeded: false))
            completions?.signal()  // no I/O will signal it, and the get waits for this answer
            return
        }
        reading[ticket] = id
        let (directory, name, key) = (directory, name(id), id.bytes)
        writer.submit {
            defer { directory.remove(name) }  // restored or not, the file has served
            do throws(SpillFileError) {
                try directory.read(name, key: key, dataSize: dataSize, into: buffer)
                return (ticket, nil)
            } catch {
                return (ticket, error)
            }
        }
    }

    func spillNeeded(_ needed: Bool, ticket: UInt64) { writing[ticket]?.unneeded = !needed }

    func discard(_ id: ObjectID) {
        var pending = false
        for (ticket, write) in writing where write.id == id {
            writing[ticket]!.discarded = true
            pending = true
        }
        guard files.remove(id) != nil || pending else { return }
        let (directory, name) = (directory, name(id))
        writer.submit {
            directory.remove(name)
            return nil
        }
    }

    func removeAll() {
        _ = finishedSpills(waitingForAll: true)  // the engine is done: the files are what matter now
        for id in files { directory.remove(name(id)) }
        files.removeAll()
        writer.stop()
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
        return try FileExternalStore(directory: String(url.dropFirst("file://".count)), logger: logger)
    }
}
