import PlasmaCore
import PlasmaPosix

/// Where evicted objects go when the store runs with `--external-store` (Arrow's `-e`): instead of
/// being dropped, an evicted object's bytes move here and come back transparently on the next get.
/// Used only from the event-loop thread.
protocol ExternalStore: AnyObject {
    /// Keeps a copy of `bytes` (data then metadata); false when it can't (the object is then dropped).
    func put(_ id: ObjectID, _ bytes: UnsafeRawBufferPointer) -> Bool
    /// Copies the object back into `buffer` (exactly its size) and forgets it; false when it can't.
    func take(_ id: ObjectID, into buffer: UnsafeMutableRawBufferPointer) -> Bool
    func remove(_ id: ObjectID)
    /// The store is stopping: drop everything (spilled objects live as long as the store).
    func removeAll()
}

/// `hashtable://NAME`: Arrow 11's only built-in external store, an in-process map (the name is ignored).
/// Evicted bytes leave the shared arena for the store's private heap, which `--memory` doesn't bound.
final class HashtableExternalStore: ExternalStore {
    private var objects: [ObjectID: [UInt8]] = [:]

    func put(_ id: ObjectID, _ bytes: UnsafeRawBufferPointer) -> Bool {
        objects[id] = Array(bytes)
        return true
    }

    func take(_ id: ObjectID, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard let bytes = objects.removeValue(forKey: id), bytes.count == buffer.count else { return false }
        bytes.withUnsafeBytes { if $0.count > 0 { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        return true
    }

    func remove(_ id: ObjectID) { objects[id] = nil }
    func removeAll() { objects.removeAll() }
}

/// `file:///DIR`: one file per evicted object in DIR (created if missing), named by the id in hex and
/// removed when the object comes back, is deleted, or the store stops. Memory stays bounded by
/// `--memory`; the disk holds the rest.
final class FileExternalStore: ExternalStore {
    let directory: String
    private var files: Set<ObjectID> = []

    init(directory: String) throws(SystemError) {
        self.directory = directory
        try SpillFile.createDirectory(directory)
    }

    private func path(_ id: ObjectID) -> String { "\(directory)/\(id.hex).plasma-spill" }

    func put(_ id: ObjectID, _ bytes: UnsafeRawBufferPointer) -> Bool {
        do {
            try SpillFile.write(bytes, to: path(id))
        } catch {
            SpillFile.remove(path(id))
            return false
        }
        files.insert(id)
        return true
    }

    func take(_ id: ObjectID, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard files.contains(id) else { return false }
        defer { remove(id) }
        do {
            try SpillFile.read(path(id), into: buffer)
            return true
        } catch {
            return false
        }
    }

    func remove(_ id: ObjectID) {
        guard files.remove(id) != nil else { return }
        SpillFile.remove(path(id))
    }

    func removeAll() {
        for id in files { SpillFile.remove(path(id)) }
        files.removeAll()
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

    static func open(_ url: String) throws(ServerError) -> ExternalStore {
        if let invalid = validate(url) { throw .invalidExternalStore(invalid.description) }
        if url.hasPrefix("hashtable://") { return HashtableExternalStore() }
        do {
            return try FileExternalStore(directory: String(url.dropFirst("file://".count)))
        } catch {
            throw .invalidExternalStore("'\(url)': \(error)")
        }
    }
}
