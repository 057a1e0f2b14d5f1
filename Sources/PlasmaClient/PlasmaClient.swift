import Glibc
import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// A blocking client of the store. Safe to share between threads: calls from several threads are
/// pipelined on the one connection, and a get that waits doesn't hold up the others.
///
/// Objects come back as buffers that point straight into the shared arena: no copies. A buffer holds a
/// reference in the store until it is released, explicitly or when the buffer is dropped.
public final class PlasmaClient: ObjectOwner {
    /// The store's capacity: the most object bytes it holds.
    public let capacity: Int
    let connection: ClientConnection
    let arena: ArenaMapping

    /// Where clients look for the store: `$PLASMA_STORE_SOCKET` when set and not empty, else
    /// `/tmp/plasma.sock` (the store's own default).
    public static var defaultSocketPath: String {
        if let value = getenv("PLASMA_STORE_SOCKET"), value.pointee != 0 { return String(cString: value) }
        return "/tmp/plasma.sock"
    }

    /// Connects, retrying while no store answers yet (`retries` more attempts, `retryInterval` apart).
    ///
    /// - Parameters:
    ///   - socketPath: the store's socket (``defaultSocketPath`` by default).
    ///   - name: a name for this client in the store's connect log line.
    ///   - retries: further attempts while nothing listens on `socketPath` yet (a store still starting).
    ///   - retryInterval: the pause between attempts.
    ///   - prefault: map the arena with MAP_POPULATE (costs time at connect, proportional to the arena;
    ///     saves the page faults of a first touch of each page later).
    ///   - spin: how long a caller polls for its reply before sleeping in the kernel; trades a little
    ///     CPU for round trips that don't pay a CPU wake-up (see docs/ARCHITECTURE.md). `.zero` never spins.
    ///   - trust: whose store to talk to (`StoreTrust`); nil reads `PLASMA_TRUSTED_STORE_UID`, and
    ///     without it only a store run by this process's user or root is accepted.
    public init(
        socketPath: String = PlasmaClient.defaultSocketPath, name: String = "", retries: Int = 0,
        retryInterval: Duration = .milliseconds(100), prefault: Bool = false, spin: Duration = .microseconds(50),
        trust: StoreTrust? = nil
    ) throws(PlasmaClientError) {
        let handshake = try Handshake.perform(
            socketPath: socketPath, name: name, retries: retries, retryInterval: retryInterval, prefault: prefault,
            spin: spin, trust: trust)
        connection = ClientConnection(socket: handshake.socket, reader: handshake.reader)
        arena = handshake.arena
        capacity = handshake.capacity
    }

    /// Closes the connection; calls still waiting fail with `disconnected`. Buffers already obtained stay
    /// readable (the mapping lives until the last one is dropped); the store released their references.
    public func close() {
        connection.shutdown(reason: "the client closed the connection")
    }

    func call(_ request: Request) throws(PlasmaClientError) -> Reply { try connection.call(request) }
    func post(_ request: Request) { connection.post(request) }

    // MARK: Creating

    /// Reserves an object and returns it writable; `seal()` it to publish it.
    ///
    /// - Parameters:
    ///   - id: the new object's id; the store refuses one that exists.
    ///   - dataSize: bytes of data, written in place before the seal (0 or more).
    ///   - metadata: bytes stored beside the data, written now.
    ///   - waitForSpace: how long to wait when the store is full and evicting can't make room.
    public func create(
        _ id: ObjectID, dataSize: Int, metadata: [UInt8] = [], waitForSpace: Wait = .no
    ) throws(PlasmaClientError) -> MutableObject {
        try checkSize(dataSize, "dataSize")
        let reply = try call(.create(
            id: id, dataSize: dataSize, metadataSize: metadata.count, timeoutMilliseconds: waitForSpace.milliseconds))
        let (location, bytes) = try writableBytes(id, dataSize: dataSize, metadata: metadata, reply: reply)
        return MutableObject(PendingObject(id: id, location: location, data: bytes.data, client: self))
    }

    /// Creates, copies in and seals in one round trip; no reference is kept. Best for small objects:
    /// the bytes travel through the socket.
    public func createAndSeal(
        _ id: ObjectID, data: [UInt8], metadata: [UInt8] = [], waitForSpace: Wait = .no
    ) throws(PlasmaClientError) {
        try expectDone(call(.createAndSeal(
            InlineObject(id: id, data: data, metadata: metadata), timeoutMilliseconds: waitForSpace.milliseconds)))
    }

    /// Many small objects in one request; one status per object, in order. Never waits for space.
    public func createAndSeal(batch objects: [InlineObject]) throws(PlasmaClientError) -> [PlasmaStatus] {
        try statuses(call(.createAndSealBatch(objects)), count: objects.count)
    }

    /// Seals an object this client created: for `MutableObject.seal()` only, which makes sure nothing
    /// writes it afterwards.
    func seal(_ id: ObjectID) throws(PlasmaClientError) {
        try expectDone(call(.seal(id: id)))
    }

    /// Drops an unsealed object this client created (`MutableObject.abort()`).
    func abort(_ id: ObjectID) throws(PlasmaClientError) {
        try expectDone(call(.abort(id: id)))
    }

    // MARK: Getting

    /// The object, once sealed: waits up to `timeout` for another process to seal it; nil if it isn't
    /// sealed by then. `.no` answers at once.
    public func get(_ id: ObjectID, timeout: Wait = .no) throws(PlasmaClientError) -> ObjectBuffer? {
        try get([id], timeout: timeout)[0]
    }

    /// Several objects at once, in request order. Waits until every one is sealed or the timeout passes;
    /// then the missing ones are nil.
    public func get(_ ids: [ObjectID], timeout: Wait = .no) throws(PlasmaClientError) -> [ObjectBuffer?] {
        let reply = try call(.get(ids: ids, timeoutMilliseconds: timeout.milliseconds))
        return try buffers(ids, reply)
    }

    /// Gives back one reference (buffers do this themselves; this is for ids held some other way).
    public func release(_ id: ObjectID) throws(PlasmaClientError) {
        let status = try statuses(call(.release(ids: [id])), count: 1)[0]
        guard status == .ok else { throw .store(status, message: "release of \(id): \(status.summary)") }
    }

    // MARK: Everything else

    /// True when the object exists and is sealed.
    public func contains(_ id: ObjectID) throws(PlasmaClientError) -> Bool {
        try containsReply(call(.contains(id: id)))
    }

    /// Deletes objects: `.ok`, `.deletionDeferred` (still referenced; it goes with the last release),
    /// `.objectNotFound` or `.objectNotSealed`, per id.
    @discardableResult
    public func delete(_ ids: [ObjectID]) throws(PlasmaClientError) -> [PlasmaStatus] {
        try statuses(call(.delete(ids: ids)), count: ids.count)
    }

    /// Evicts least recently used unreferenced objects until at least `bytes` are freed.
    @discardableResult
    public func evict(_ bytes: Int) throws(PlasmaClientError) -> (bytes: Int, objects: Int) {
        try checkSize(bytes, "bytes to evict")
        return try evictedReply(call(.evict(bytes: bytes)))
    }

    /// Every object in the store, sealed or not, with its sizes, references and state.
    public func list() throws(PlasmaClientError) -> [ObjectInfo] {
        try listReply(call(.list))
    }

    /// The store's counters and gauges (`plasma stats` shows the same).
    public func statistics() throws(PlasmaClientError) -> StoreStatistics {
        try statisticsReply(call(.stats))
    }
}
