import Foundation
import Logging
import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// The store from Swift concurrency: `try await client.get(id)` suspends until any process seals the
/// object. Waits happen in the store (no polling); cancelling the awaiting task withdraws the wait there.
/// Any number of awaits share the one connection.
///
/// It has the operations of the blocking ``PlasmaClient/PlasmaClient``, with the same names, the same
/// ``Wait`` and the same outcomes; every call throws only ``PlasmaClientError`` (a cancelled task gets
/// ``PlasmaClientError/cancelled``). A separate type because the two read replies differently: this
/// one has the process's read loop resume tasks, that one lets the calling thread read its own reply.
public final class AsyncPlasmaClient: ObjectOwner {
    /// The store's capacity (`--memory`): the most object bytes it holds.
    public let capacity: Int
    /// How this client copies caller bytes into objects (``AsyncMutableObject/write(_:at:)``, `put(_:bytes:…)`).
    public let parallelCopy: ParallelCopy
    let connection: AsyncConnection
    let arena: ArenaMapping
    let logger: Logger

    /// Objects up to this size (data and metadata) travel inline in one create-and-seal; `put` writes
    /// larger ones in place. The same for both clients.
    public static let inlineLimit = PlasmaClient.inlineLimit

    /// Connects, retrying while no store answers yet; the parameters are those of
    /// ``PlasmaClient/PlasmaClient/init(socketPath:name:retries:retryInterval:prefault:spin:trust:logger:parallelCopy:)``
    /// (there is no `spin`: the process's read loop sleeps in the kernel).
    ///
    /// - Parameters:
    ///   - socketPath: the store's socket (``PlasmaClient/PlasmaClient/defaultSocketPath`` by default).
    ///   - name: a name for this client in the store's connect log line.
    ///   - retries: further attempts while nothing listens on `socketPath` yet.
    ///   - retryInterval: the pause between attempts.
    ///   - prefault: map the arena with MAP_POPULATE.
    ///   - trust: whose store to talk to (``StoreTrust``); nil reads `PLASMA_TRUSTED_STORE_UID`.
    ///   - logger: where the client logs its connection's life (connect, close, failure); nil logs nothing.
    ///   - parallelCopy: how large copies into objects use several threads (``ParallelCopy/off``: never).
    ///     The copy blocks the calling task's thread, as a single-threaded copy would, for less time.
    public init(
        socketPath: String = PlasmaClient.defaultSocketPath, name: String = "", retries: Int = 0,
        retryInterval: Duration = .milliseconds(100), prefault: Bool = false, trust: StoreTrust? = nil,
        logger: Logger? = nil, parallelCopy: ParallelCopy = .default
    ) throws(PlasmaClientError) {
        let logger = logger ?? .silent
        // The read loop blocks in the kernel; spinning there would only burn a core.
        let handshake = try Handshake.perform(
            socketPath: socketPath, name: name, retries: retries, retryInterval: retryInterval, prefault: prefault,
            spin: .zero, trust: trust, logger: logger)
        connection = AsyncConnection(socket: handshake.socket, reader: handshake.reader, logger: logger)
        arena = handshake.arena
        capacity = handshake.capacity
        self.parallelCopy = parallelCopy
        self.logger = logger
        logger.debug("plasma: connected to \(socketPath) (capacity \(capacity) bytes)")
    }

    /// The thread that reads every async client's replies in this process, as a task executor: opt in
    /// with `withTaskExecutorPreference(AsyncPlasmaClient.readLoopExecutor) { … }` (or
    /// `Task(executorPreference:)`) and a reply resumes the awaiting code on the thread that read it.
    ///
    /// By default a reply is read by that thread and the task it answers runs on the cooperative pool,
    /// so each await that sleeps costs two thread wake-ups; with this preference it costs one (0.79× of
    /// the default wake's median on a loaded 2-vCPU VM; see `Benchmarks/README.md`, `wake-async-readloop`).
    ///
    /// The price: while code with this preference runs, no async client in the process reads its
    /// socket. Such code must therefore not block: no blocking ``PlasmaClient/PlasmaClient`` calls,
    /// no semaphores, sleeps, locks held for long or long computations. Code that blocks until another
    /// async client's await returns never wakes up, because that await's reply is read by the blocked
    /// thread. Leave the preference (`withTaskExecutorPreference(globalConcurrentExecutor) { … }`)
    /// around anything that may block, and around creating a client (it connects, and may retry, on
    /// the calling thread). A request that doesn't fit in the socket's buffer also waits on this thread
    /// until the store takes it in, and meanwhile no reply is read. Call ``sealed(_:timeout:)`` of many
    /// ids off this preference: it sends one request per id before reading any reply, and with the
    /// reading and the consuming on one thread, the store may close the client for replies left unread
    /// past its share of the client-state budget (seen with 50,000 ids and an 8 MiB budget).
    ///
    /// If the read loop can't run (its set-up failed), the preference runs code on the global
    /// concurrent executor instead.
    public static var readLoopExecutor: any TaskExecutor { ReadLoopExecutor.shared }

    deinit { connection.shutdown(reason: "the client was released") }

    /// Resumes every pending await with `disconnected` and closes the connection. Buffers already
    /// obtained stay readable; the store drops their references.
    public func shutdown() {
        connection.shutdown(reason: "the client shut down")
    }

    func post(_ request: Request) { connection.post(request) }

    /// Fire-and-forget: the store can only refuse a release this client doesn't hold, which a buffer can't cause.
    func release(_ id: ObjectID) throws(PlasmaClientError) { post(.release(ids: [id])) }

    func call(_ request: Request) async throws(PlasmaClientError) -> Reply { try await connection.call(request) }

    // MARK: Creating

    /// Reserves an object and returns it writable; `seal()` it to publish it. The same as the blocking
    /// client's `create`, with an ``AsyncMutableObject`` whose `seal()` is `async`.
    ///
    /// - Parameters:
    ///   - id: the new object's id; the store refuses one that exists.
    ///   - dataSize: bytes of data, written in place before the seal (0 or more).
    ///   - metadata: bytes stored beside the data, written now.
    ///   - waitForSpace: how long to wait when the store is full and evicting can't make room.
    public func create(
        _ id: ObjectID, dataSize: Int, metadata: [UInt8] = [], waitForSpace: Wait = .no
    ) async throws(PlasmaClientError) -> AsyncMutableObject {
        try checkSize(dataSize, "dataSize")
        let reply = try await call(.create(
            id: id, dataSize: dataSize, metadataSize: metadata.count, timeoutMilliseconds: waitForSpace.milliseconds))
        let (location, bytes) = try writableBytes(id, dataSize: dataSize, metadata: metadata, reply: reply)
        return AsyncMutableObject(PendingObject(id: id, location: location, data: bytes.data, client: self))
    }

    /// Stores `bytes` (`[UInt8]`, `Data`, a slice, any `ContiguousBytes`) as a sealed object and keeps
    /// no reference. Small objects go inline in one round trip; larger ones are written in place.
    public func put(
        _ id: ObjectID, bytes: some ContiguousBytes, metadata: [UInt8] = [], waitForSpace: Wait = .no
    ) async throws(PlasmaClientError) {
        let count = bytes.withUnsafeBytes(\.count)
        if count + metadata.count <= Self.inlineLimit {
            let data = bytes.withUnsafeBytes { Array($0) }
            return try await createAndSeal(id, data: data, metadata: metadata, waitForSpace: waitForSpace)
        }
        let object = try await create(id, dataSize: count, metadata: metadata, waitForSpace: waitForSpace)
        try object.write(bytes)
        _ = try await object.seal()  // the buffer, dropped, gives the reference back
    }

    /// Reserves `size` bytes, lets `write` fill them in place, seals; keeps no reference. If the task
    /// is cancelled, the object is aborted. (A write that can fail: `create`, write, `seal()`.)
    public func put(
        _ id: ObjectID, size: Int, metadata: [UInt8] = [], waitForSpace: Wait = .no,
        _ write: (UnsafeMutableRawBufferPointer) -> Void
    ) async throws(PlasmaClientError) {
        try checkSize(size, "size")
        let object = try await create(id, dataSize: size, metadata: metadata, waitForSpace: waitForSpace)
        object.withUnsafeMutableBytes(write)
        _ = try await object.seal()
    }

    /// Creates, copies in and seals in one round trip; keeps no reference. Best for small objects: the
    /// bytes travel through the socket.
    public func createAndSeal(
        _ id: ObjectID, data: [UInt8], metadata: [UInt8] = [], waitForSpace: Wait = .no
    ) async throws(PlasmaClientError) {
        try expectDone(try await call(.createAndSeal(
            InlineObject(id: id, data: data, metadata: metadata), timeoutMilliseconds: waitForSpace.milliseconds)))
    }

    /// Many small objects in one request; one status per object, in order. Never waits for space.
    public func createAndSeal(batch objects: [InlineObject]) async throws(PlasmaClientError) -> [PlasmaStatus] {
        try statuses(try await call(.createAndSealBatch(objects)), count: objects.count)
    }

    // MARK: Getting

    /// The object, once some process has sealed it; `nil` if it isn't sealed when `timeout` passes
    /// (at once for `.no`). Cancelling the task throws ``PlasmaClientError/cancelled`` and withdraws
    /// the wait in the store.
    public func get(_ id: ObjectID, timeout: Wait = .forever) async throws(PlasmaClientError) -> ObjectBuffer? {
        try await get([id], timeout: timeout)[0]
    }

    /// Several objects, in request order: waits until every one is sealed or `timeout` passes; then the
    /// missing ones are `nil` (the ones found are held, as buffers).
    public func get(_ ids: [ObjectID], timeout: Wait = .forever) async throws(PlasmaClientError) -> [ObjectBuffer?] {
        try buffers(ids, try await call(.get(ids: ids, timeoutMilliseconds: timeout.milliseconds)))
    }

    /// Yields each object as it is sealed, in seal order, and ends when all have come or `timeout` has
    /// passed (then without the ones not sealed in time: compare the ids yielded). Ending the loop or
    /// cancelling the task withdraws the remaining waits.
    ///
    /// One get per id waits in the store; the store answers each the moment its object is sealed, so
    /// the replies arrive in seal order, and the read loop yields each as it reads it (`callEach`):
    /// nothing in between can reorder them. (An object already sealed when its get arrives comes at once.)
    public func sealed(_ ids: [ObjectID], timeout: Wait = .forever) -> PlasmaStream<ObjectBuffer> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: ObjectBuffer.self, throwing: (any Error).self)
        guard !ids.isEmpty else {
            continuation.finish()
            return PlasmaStream(stream)
        }
        let milliseconds = timeout.milliseconds
        // How many have come; touched by the read loop, and by a failing connection on any thread.
        let remaining = Locked(ids.count)
        let withdraw = connection.callEach(ids.map { .get(ids: [$0], timeoutMilliseconds: milliseconds) }) { [self] answer in
            do {
                let (index, reply) = try answer.get()
                guard let buffer = try buffers([ids[index]], reply)[0] else {
                    // Every wait has the same deadline: the others have run out too.
                    continuation.finish()
                    return false
                }
                let done = remaining.withLock { remaining in
                    remaining -= 1
                    return remaining == 0
                }
                continuation.yield(buffer)
                if done { continuation.finish() }
                return !done
            } catch {
                continuation.finish(throwing: error)
                return false
            }
        }
        continuation.onTermination = { _ in withdraw() }
        return PlasmaStream(stream)
    }

    // MARK: Everything else

    /// True when the object exists and is sealed (an unsealed one doesn't count).
    public func contains(_ id: ObjectID) async throws(PlasmaClientError) -> Bool {
        try containsReply(try await call(.contains(id: id)))
    }

    /// Deletes objects: `.ok`, `.deletionDeferred` (still referenced; it goes with the last release),
    /// `.objectNotFound` or `.objectNotSealed`, per id.
    @discardableResult
    public func delete(_ ids: [ObjectID]) async throws(PlasmaClientError) -> [PlasmaStatus] {
        try statuses(try await call(.delete(ids: ids)), count: ids.count)
    }

    /// Evicts least recently used unreferenced objects until at least `bytes` are freed (fewer if fewer
    /// are evictable); returns what went.
    @discardableResult
    public func evict(_ bytes: Int) async throws(PlasmaClientError) -> (bytes: Int, objects: Int) {
        try checkSize(bytes, "bytes to evict")
        return try evictedReply(try await call(.evict(bytes: bytes)))
    }

    /// Every object in the store, sealed or not, with its sizes, references and state.
    public func list() async throws(PlasmaClientError) -> [ObjectInfo] {
        try listReply(try await call(.list))
    }

    /// Like ``list()``, with each pulled copy's origin node (`ObjectInfo.origin`). Needs a store that
    /// knows the request (this version on); an older one closes the connection.
    public func listWithOrigins() async throws(PlasmaClientError) -> [ObjectInfo] {
        try listReply(try await call(.listWithOrigins))
    }

    /// The store's counters and gauges (`plasma stats` shows the same).
    public func statistics() async throws(PlasmaClientError) -> StoreStatistics {
        try statisticsReply(try await call(.stats))
    }
}

// MARK: Subscriptions

extension AsyncPlasmaClient {
    /// Events about these objects: sealed (with sizes), deleted, evicted, aborted. An id that is
    /// already sealed is announced at once, so check-then-subscribe has no race. Ending the loop or
    /// cancelling the task unsubscribes.
    ///
    /// `.overflow` means events were dropped because they were read too slowly (by this process or by
    /// the store's queue for it): resync with `contains` / `list`.
    public func events(for ids: [ObjectID]) -> PlasmaStream<ObjectEvent> {
        PlasmaStream(connection.events(matching: .ids(ids)))
    }

    /// Events about every object whose id starts with `prefix` (1 to 20 bytes): a namespace.
    public func events(prefix: [UInt8]) -> PlasmaStream<ObjectEvent> {
        PlasmaStream(connection.events(matching: .prefix(prefix)))
    }

    /// Events about every object.
    public func allEvents() -> PlasmaStream<ObjectEvent> {
        PlasmaStream(connection.events(matching: .all))
    }
}
