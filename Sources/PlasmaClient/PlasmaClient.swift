import Foundation
import Glibc
import Logging
import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// A blocking client of the store. Safe to share between threads: calls from several threads are
/// pipelined on the one connection, and a get that waits doesn't hold up the others.
///
/// Objects come back as buffers that point straight into the shared arena: no copies. A buffer holds a
/// reference in the store until it is released, explicitly or when the buffer is dropped.
///
/// ``AsyncPlasmaClient`` has the same operations with the same names, ``Wait`` and outcomes, as `async`
/// calls; both throw only ``PlasmaClientError``.
public final class PlasmaClient: ObjectOwner {
    /// The store's capacity: the most object bytes it holds.
    public let capacity: Int
    /// How this client copies caller bytes into objects (``MutableObject/write(_:at:)``, `put(_:bytes:…)`).
    public let parallelCopy: ParallelCopy
    let connection: ClientConnection
    let arena: ArenaMapping

    /// Objects up to this size (data and metadata) travel inline in one create-and-seal; `put` writes
    /// larger ones in place. The same for both clients.
    public static let inlineLimit = 64 << 10

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
    ///   - logger: where the client logs its connection's life (connect, close, failure); nil logs nothing.
    ///   - parallelCopy: how large copies into objects use several threads (``ParallelCopy/off``: never).
    public init(
        socketPath: String = PlasmaClient.defaultSocketPath, name: String = "", retries: Int = 0,
        retryInterval: Duration = .milliseconds(100), prefault: Bool = false, spin: Duration = .microseconds(50),
        trust: StoreTrust? = nil, logger: Logger? = nil, parallelCopy: ParallelCopy = .default
    ) throws(PlasmaClientError) {
        let logger = logger ?? .silent
        let handshake = try Handshake.perform(
            socketPath: socketPath, name: name, retries: retries, retryInterval: retryInterval, prefault: prefault,
            spin: spin, trust: trust, logger: logger)
        connection = ClientConnection(socket: handshake.socket, reader: handshake.reader, logger: logger)
        arena = handshake.arena
        capacity = handshake.capacity
        self.parallelCopy = parallelCopy
        logger.debug("plasma: connected to \(socketPath) (capacity \(capacity) bytes)")
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

    /// Stores `bytes` (`[UInt8]`, `Data`, a slice, any `ContiguousBytes`) as a sealed object and keeps
    /// no reference. Small objects go inline in one round trip; larger ones are written in place (on
    /// several threads from ``ParallelCopy/threshold`` bytes: ``parallelCopy``).
    public func put(
        _ id: ObjectID, bytes: some ContiguousBytes, metadata: [UInt8] = [], waitForSpace: Wait = .no
    ) throws(PlasmaClientError) {
        let count = bytes.withUnsafeBytes(\.count)
        if count + metadata.count <= Self.inlineLimit {
            return try createAndSeal(id, data: bytes.withUnsafeBytes { Array($0) }, metadata: metadata, waitForSpace: waitForSpace)
        }
        let object = try create(id, dataSize: count, metadata: metadata, waitForSpace: waitForSpace)
        try object.write(bytes)  // can't fail (the size is the bytes'); if it did, the dropped object aborts
        _ = try object.seal()  // the buffer, dropped, gives the reference back
    }

    /// Reserves `size` bytes, lets `write` fill them in place, seals; keeps no reference. (A write
    /// that can fail: `create`, write, `seal()`, which aborts the object if it is dropped unsealed.)
    public func put(
        _ id: ObjectID, size: Int, metadata: [UInt8] = [], waitForSpace: Wait = .no,
        _ write: (UnsafeMutableRawBufferPointer) -> Void
    ) throws(PlasmaClientError) {
        try checkSize(size, "size")
        let object = try create(id, dataSize: size, metadata: metadata, waitForSpace: waitForSpace)
        object.withUnsafeMutableBytes(write)
        _ = try object.seal()
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

    /// The object, once some process has sealed it; `nil` if it isn't sealed when `timeout` passes
    /// (at once for `.no`). Blocks the calling thread while it waits.
    public func get(_ id: ObjectID, timeout: Wait = .forever) throws(PlasmaClientError) -> ObjectBuffer? {
        try get([id], timeout: timeout)[0]
    }

    /// Several objects, in request order: waits until every one is sealed or `timeout` passes; then the
    /// missing ones are `nil` (the ones found are held, as buffers).
    public func get(_ ids: [ObjectID], timeout: Wait = .forever) throws(PlasmaClientError) -> [ObjectBuffer?] {
        let reply = try call(.get(ids: ids, timeoutMilliseconds: timeout.milliseconds))
        return try buffers(ids, reply)
    }

    /// Gives back one reference (`ObjectBuffer.release()`).
    func release(_ id: ObjectID) throws(PlasmaClientError) {
        let status = try statuses(call(.release(ids: [id])), count: 1)[0]
        guard status == .ok else { throw .store(status, message: "release of \(id): \(status.summary)") }
    }

    // MARK: Everything else

    /// True when the object exists and is sealed (an unsealed one doesn't count).
    public func contains(_ id: ObjectID) throws(PlasmaClientError) -> Bool {
        try containsReply(call(.contains(id: id)))
    }

    /// Deletes objects: `.ok`, `.deletionDeferred` (still referenced; it goes with the last release),
    /// `.objectNotFound` or `.objectNotSealed`, per id.
    @discardableResult
    public func delete(_ ids: [ObjectID]) throws(PlasmaClientError) -> [PlasmaStatus] {
        try statuses(call(.delete(ids: ids)), count: ids.count)
    }

    /// Evicts least recently used unreferenced objects until at least `bytes` are freed (fewer if fewer
    /// are evictable); returns what went.
    @discardableResult
    public func evict(_ bytes: Int) throws(PlasmaClientError) -> (bytes: Int, objects: Int) {
        try checkSize(bytes, "bytes to evict")
        return try evictedReply(call(.evict(bytes: bytes)))
    }

    /// Every object in the store, sealed or not, with its sizes, references and state.
    public func list() throws(PlasmaClientError) -> [ObjectInfo] {
        try listReply(call(.list))
    }

    /// Like ``list()``, with each pulled copy's origin node (`ObjectInfo.origin`). Needs a store that
    /// knows the request (this version on); an older one closes the connection.
    public func listWithOrigins() throws(PlasmaClientError) -> [ObjectInfo] {
        try listReply(call(.listWithOrigins))
    }

    /// The store's counters and gauges (`plasma stats` shows the same).
    public func statistics() throws(PlasmaClientError) -> StoreStatistics {
        try statisticsReply(call(.stats))
    }
}

// MARK: Subscriptions

extension PlasmaClient {
    /// Events about these objects: sealed (with sizes), deleted, evicted, aborted, taken one at a time
    /// with ``EventSubscription/next(timeout:)``. An id that is already sealed is announced at once, so
    /// check-then-subscribe has no race. ``EventSubscription/cancel()`` (or dropping it) unsubscribes.
    ///
    /// `.overflow` means events were dropped because they were read too slowly (by this process or by
    /// the store's queue for it): resync with `contains` / `list`.
    public func events(for ids: [ObjectID]) throws(PlasmaClientError) -> EventSubscription {
        EventSubscription(connection, id: try connection.subscribe(.ids(ids)))
    }

    /// Events about every object whose id starts with `prefix` (1 to 20 bytes): a namespace.
    public func events(prefix: [UInt8]) throws(PlasmaClientError) -> EventSubscription {
        EventSubscription(connection, id: try connection.subscribe(.prefix(prefix)))
    }

    /// Events about every object.
    public func allEvents() throws(PlasmaClientError) -> EventSubscription {
        EventSubscription(connection, id: try connection.subscribe(.all))
    }
}

extension Logger {
    /// What a client logs to when given no logger: nothing.
    static let silent = Logger(label: "plasma.client", factory: { _ in SwiftLogNoOpLogHandler() })
}
