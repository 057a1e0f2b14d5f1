import Glibc
import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// A blocking client of the store. Safe to share between threads: calls from several threads are
/// pipelined on the one connection, and a get that waits doesn't hold up the others.
///
/// Objects come back as buffers that point straight into the shared arena: no copies. A buffer holds a
/// reference in the store until it is released, explicitly or when the buffer is dropped.
public final class PlasmaClient: Sendable {
    /// The store's capacity: the most object bytes it holds.
    public let capacity: Int
    let connection: ClientConnection
    /// The arena mapped read-write, for objects this client creates.
    let writableArena: SharedMemoryMapping
    /// The arena mapped read-only, for objects it gets: a stray write faults instead of corrupting a
    /// sealed object.
    let readableArena: SharedMemoryMapping

    public static var defaultSocketPath: String {
        if let value = getenv("PLASMA_STORE_SOCKET"), value.pointee != 0 { return String(cString: value) }
        return "/tmp/plasma.sock"
    }

    /// Connects, retrying while no store answers yet (`retries` more attempts, `retryInterval` apart).
    ///
    /// - Parameters:
    ///   - prefault: map the arena with MAP_POPULATE (costs time at connect, proportional to the arena;
    ///     saves the page faults of a first touch of each page later).
    ///   - spin: how long a caller polls for its reply before sleeping in the kernel; trades a little
    ///     CPU for round trips that don't pay a CPU wake-up (see docs/ARCHITECTURE.md). `.zero` never spins.
    public init(
        socketPath: String = PlasmaClient.defaultSocketPath, name: String = "", retries: Int = 0,
        retryInterval: Duration = .milliseconds(100), prefault: Bool = false, spin: Duration = .microseconds(50)
    ) throws(PlasmaClientError) {
        let socket = try Self.open(socketPath, retries: retries, retryInterval: retryInterval)
        do {
            connection = try ClientConnection(socket: socket, spin: spin)
        } catch {
            socket.close()
            throw error
        }
        let reply = try connection.call(.connect(clientName: name))
        guard case .connected(let capacity, let arenaSize, _) = reply else {
            connection.shutdown(reason: "connect failed")
            throw Self.failure(reply, expected: "connected")
        }
        let descriptors = connection.takeDescriptors()
        guard let arena = descriptors.last else {
            throw .protocolViolation("the store sent no arena descriptor with its connect reply")
        }
        defer { for fd in descriptors { Glibc.close(fd) } }
        do {
            writableArena = try SharedMemoryMapping(descriptor: arena, size: arenaSize, writable: true, populate: prefault)
            readableArena = try SharedMemoryMapping(descriptor: arena, size: arenaSize, writable: false, populate: prefault)
        } catch {
            throw .protocolViolation("cannot map the arena of \(arenaSize) bytes: \(error)")
        }
        self.capacity = capacity
    }

    private static func open(_ path: String, retries: Int, retryInterval: Duration) throws(PlasmaClientError) -> UnixSocket {
        var attempt = 0
        while true {
            do {
                return try UnixSocket.connect(path: path)
            } catch {
                guard attempt < retries else {
                    throw .cannotConnect(path: path, reason: "\(error)")
                }
                attempt += 1
                let (seconds, attoseconds) = retryInterval.components
                var delay = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
                nanosleep(&delay, nil)
            }
        }
    }

    /// Closes the connection; calls still waiting fail with `disconnected`. Buffers already obtained stay
    /// readable (the mapping lives until the last one is dropped); the store released their references.
    public func close() {
        connection.shutdown(reason: "the client closed the connection")
    }

    // MARK: Creating

    /// Reserves an object and returns its writable bytes; `seal()` it to publish it.
    ///
    /// - Parameter waitForSpace: how long to wait for space when the store is full and nothing evictable
    ///   frees enough: nil fails at once, `.seconds(-1)`-style negatives are rejected; use
    ///   `waitForSpaceForever` to wait without limit.
    public func create(
        _ id: ObjectID, dataSize: Int, metadata: [UInt8] = [], waitForSpace: Wait = .no
    ) throws(PlasmaClientError) -> MutableObject {
        let reply = try connection.call(.create(
            id: id, dataSize: dataSize, metadataSize: metadata.count, timeoutMilliseconds: waitForSpace.milliseconds))
        guard case .created(let offset) = reply else { throw Self.failure(reply, expected: "created") }
        let total = dataSize + metadata.count
        guard offset >= 0, offset + total <= writableArena.size else {
            throw .protocolViolation("object at \(offset)+\(total) lies outside the arena")
        }
        let base = writableArena.base + offset
        metadata.withUnsafeBytes { raw in
            if raw.count > 0 { (base + dataSize).copyMemory(from: raw.baseAddress!, byteCount: raw.count) }
        }
        return MutableObject(
            id: id, client: self, data: UnsafeMutableRawBufferPointer(start: base, count: dataSize),
            metadata: UnsafeRawBufferPointer(start: base + dataSize, count: metadata.count))
    }

    /// Creates, copies in and seals in one round trip; no reference is kept. Best for small objects:
    /// the bytes travel through the socket.
    public func createAndSeal(
        _ id: ObjectID, data: [UInt8], metadata: [UInt8] = [], waitForSpace: Wait = .no
    ) throws(PlasmaClientError) {
        let reply = try connection.call(.createAndSeal(
            InlineObject(id: id, data: data, metadata: metadata), timeoutMilliseconds: waitForSpace.milliseconds))
        guard case .done = reply else { throw Self.failure(reply, expected: "done") }
    }

    /// Many small objects in one request; one status per object, in order. Never waits for space.
    public func createAndSeal(batch objects: [InlineObject]) throws(PlasmaClientError) -> [PlasmaStatus] {
        let reply = try connection.call(.createAndSealBatch(objects))
        guard case .statuses(let statuses) = reply, statuses.count == objects.count else {
            throw Self.failure(reply, expected: "\(objects.count) statuses")
        }
        return statuses
    }

    func seal(_ id: ObjectID) throws(PlasmaClientError) {
        let reply = try connection.call(.seal(id: id))
        guard case .done = reply else { throw Self.failure(reply, expected: "done") }
    }

    /// Drops an unsealed object this client created.
    public func abort(_ id: ObjectID) throws(PlasmaClientError) {
        let reply = try connection.call(.abort(id: id))
        guard case .done = reply else { throw Self.failure(reply, expected: "done") }
    }

    // MARK: Getting

    /// The object, once sealed: waits up to `timeout` for another process to seal it; nil if it isn't
    /// sealed by then. `.no` polls.
    public func get(_ id: ObjectID, timeout: Wait = .no) throws(PlasmaClientError) -> ObjectBuffer? {
        try get([id], timeout: timeout)[0]
    }

    /// Several objects at once, in request order. Waits until every one is sealed or the timeout passes;
    /// then the missing ones are nil.
    public func get(_ ids: [ObjectID], timeout: Wait = .no) throws(PlasmaClientError) -> [ObjectBuffer?] {
        let reply = try connection.call(.get(ids: ids, timeoutMilliseconds: timeout.milliseconds))
        guard case .objects(let locations) = reply, locations.count == ids.count else {
            throw Self.failure(reply, expected: "\(ids.count) objects")
        }
        var buffers = [ObjectBuffer?]()
        buffers.reserveCapacity(ids.count)
        var violation: PlasmaClientError?
        for (id, location) in zip(ids, locations) {
            guard let location else {
                buffers.append(nil)
                continue
            }
            let total = location.dataSize + location.metadataSize
            guard location.offset + total <= readableArena.size, violation == nil else {
                violation = .protocolViolation("object \(id) at \(location.offset)+\(total) lies outside the arena")
                connection.post(.release(ids: [id]))
                buffers.append(nil)
                continue
            }
            let base = UnsafeRawPointer(readableArena.base + location.offset)
            buffers.append(ObjectBuffer(
                id: id, client: self, data: UnsafeRawBufferPointer(start: base, count: location.dataSize),
                metadata: UnsafeRawBufferPointer(start: base + location.dataSize, count: location.metadataSize)))
        }
        if let violation { throw violation }
        return buffers
    }

    func release(_ id: ObjectID) throws(PlasmaClientError) {
        let reply = try connection.call(.release(ids: [id]))
        guard case .statuses(let statuses) = reply, statuses.count == 1 else {
            throw Self.failure(reply, expected: "one status")
        }
        guard statuses[0] == .ok else { throw .store(statuses[0], message: "release of \(id): \(statuses[0].summary)") }
    }

    // MARK: Everything else

    /// True when the object exists and is sealed.
    public func contains(_ id: ObjectID) throws(PlasmaClientError) -> Bool {
        let reply = try connection.call(.contains(id: id))
        guard case .contains(let present) = reply else { throw Self.failure(reply, expected: "contains") }
        return present
    }

    /// Deletes objects: `.ok`, `.deletionDeferred` (still referenced; it goes with the last release),
    /// `.objectNotFound` or `.objectNotSealed`, per id.
    @discardableResult
    public func delete(_ ids: [ObjectID]) throws(PlasmaClientError) -> [PlasmaStatus] {
        let reply = try connection.call(.delete(ids: ids))
        guard case .statuses(let statuses) = reply, statuses.count == ids.count else {
            throw Self.failure(reply, expected: "\(ids.count) statuses")
        }
        return statuses
    }

    /// Evicts least recently used unreferenced objects until at least `bytes` are freed.
    @discardableResult
    public func evict(_ bytes: Int) throws(PlasmaClientError) -> (bytes: Int, objects: Int) {
        let reply = try connection.call(.evict(bytes: bytes))
        guard case .evicted(let freed, let count) = reply else { throw Self.failure(reply, expected: "evicted") }
        return (freed, count)
    }

    public func list() throws(PlasmaClientError) -> [ObjectInfo] {
        let reply = try connection.call(.list)
        guard case .list(let infos) = reply else { throw Self.failure(reply, expected: "list") }
        return infos
    }

    public func statistics() throws(PlasmaClientError) -> StoreStatistics {
        let reply = try connection.call(.stats)
        guard case .stats(let statistics) = reply else { throw Self.failure(reply, expected: "stats") }
        return statistics
    }

    static func failure(_ reply: Reply, expected: String) -> PlasmaClientError {
        if case .failure(let status, let message) = reply { return .store(status, message: message) }
        return .protocolViolation("expected \(expected), got \(reply)")
    }
}

/// How long a call may wait in the store.
public enum Wait: Sendable, Equatable {
    /// Don't wait: answer with what is there now.
    case no
    case forever
    /// Rounded up to whole milliseconds.
    case timeout(Duration)

    var milliseconds: Int64 {
        switch self {
        case .no: return 0
        case .forever: return -1
        case .timeout(let duration):
            let (seconds, attoseconds) = duration.components
            guard seconds >= 0, attoseconds >= 0 else { return 0 }
            let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
            return max(1, milliseconds)
        }
    }
}
