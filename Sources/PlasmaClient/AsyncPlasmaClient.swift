import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// The store from Swift concurrency: `try await client.get(id)` suspends until any process seals the
/// object. Waits happen in the store (no polling); cancelling the awaiting task withdraws the wait there.
/// Any number of awaits share the one connection.
///
/// A separate type from the blocking `PlasmaClient` because the two read replies differently: this one
/// has the process's read loop resume tasks, that one lets the calling thread read its own reply.
public final class AsyncPlasmaClient: ObjectOwner {
    /// The store's capacity (`--memory`): the most object bytes it holds.
    public let capacity: Int
    let connection: AsyncConnection
    let arena: ArenaMapping

    /// Objects up to this size travel inline in one create-and-seal; larger ones are written in place.
    public static let inlineLimit = 64 << 10

    /// `trust`: whose store to talk to, as for `PlasmaClient.init`.
    public init(
        socketPath: String = PlasmaClient.defaultSocketPath, name: String = "", retries: Int = 0,
        retryInterval: Duration = .milliseconds(100), prefault: Bool = false, trust: StoreTrust? = nil
    ) throws(PlasmaClientError) {
        // The read loop blocks in the kernel; spinning there would only burn a core.
        let handshake = try Handshake.perform(
            socketPath: socketPath, name: name, retries: retries, retryInterval: retryInterval, prefault: prefault,
            spin: .zero, trust: trust)
        connection = AsyncConnection(socket: handshake.socket, reader: handshake.reader)
        arena = handshake.arena
        capacity = handshake.capacity
    }

    deinit { connection.shutdown(reason: "the client was released") }

    /// Resumes every pending await with `disconnected` and closes the connection. Buffers already
    /// obtained stay readable; the store drops their references.
    public func shutdown() {
        connection.shutdown(reason: "the client shut down")
    }

    func post(_ request: Request) { connection.post(request) }

    /// Fire-and-forget: the store can only refuse a release this client doesn't hold, which a buffer can't cause.
    func release(_ id: ObjectID) throws(PlasmaClientError) { post(.release(ids: [id])) }

    private func call(_ request: Request) async throws -> Reply { try await connection.call(request) }

    // MARK: Awaiting objects

    /// The object, once some process has sealed it. Throws `PlasmaClientError.timedOut` naming the id when
    /// `timeout` passes first, `CancellationError` when the task is cancelled.
    public func get(_ id: ObjectID, timeout: Duration? = nil) async throws -> ObjectBuffer {
        try await get([id], timeout: timeout)[0]
    }

    /// Every object, in request order, once all are sealed. On timeout, throws `timedOut` with the ids
    /// still missing (the ones found are released).
    public func get(_ ids: [ObjectID], timeout: Duration? = nil) async throws -> [ObjectBuffer] {
        let wait: Wait = timeout.map { .timeout($0) } ?? .forever
        let buffers = try buffers(ids, try await call(.get(ids: ids, timeoutMilliseconds: wait.milliseconds)))
        let missing = zip(ids, buffers).filter { $1 == nil }.map(\.0)
        guard missing.isEmpty else { throw PlasmaClientError.timedOut(missing) }
        return buffers.map { $0! }
    }

    /// Yields each object as it is sealed, in seal order, until all have come. Ending the loop or
    /// cancelling the task withdraws the remaining waits. On timeout, throws `timedOut` with the ids
    /// not yet yielded.
    ///
    /// One get per id waits in the store; the store answers each the moment its object is sealed, so
    /// the replies arrive in seal order, and the read loop yields each as it reads it (`callEach`):
    /// nothing in between can reorder them. (An object already sealed when its get arrives comes at once.)
    public func sealed(_ ids: [ObjectID], timeout: Duration? = nil) -> AsyncThrowingStream<ObjectBuffer, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: ObjectBuffer.self, throwing: (any Error).self)
        guard !ids.isEmpty else {
            continuation.finish()
            return stream
        }
        let milliseconds = (timeout.map { Wait.timeout($0) } ?? .forever).milliseconds
        // Which ids have come; touched by the read loop, and by a failing connection on any thread.
        let answered = Locked((yielded: [Bool](repeating: false, count: ids.count), remaining: ids.count))
        let withdraw = connection.callEach(ids.map { .get(ids: [$0], timeoutMilliseconds: milliseconds) }) { [self] answer in
            do {
                let (index, reply) = try answer.get()
                guard let buffer = try buffers([ids[index]], reply)[0] else {
                    // Every wait has the same deadline: the others are missing too.
                    let missing = answered.withLock { answered in zip(ids, answered.yielded).filter { !$1 }.map(\.0) }
                    throw PlasmaClientError.timedOut(missing)
                }
                let done = answered.withLock { answered in
                    answered.yielded[index] = true
                    answered.remaining -= 1
                    return answered.remaining == 0
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
        return stream
    }

    // MARK: Putting objects

    /// Stores `bytes` as a sealed object. Small objects go inline in one round trip; larger ones are
    /// written in place in the arena.
    public func put(_ id: ObjectID, bytes: [UInt8], metadata: [UInt8] = [], waitForSpace: Wait = .no) async throws {
        if bytes.count + metadata.count <= Self.inlineLimit {
            return try await createAndSeal(id, data: bytes, metadata: metadata, waitForSpace: waitForSpace)
        }
        try await put(id, size: bytes.count, metadata: metadata, waitForSpace: waitForSpace) { buffer in
            bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        }
    }

    /// Reserves `size` bytes, lets `write` fill them in place, seals. If `write` throws or the task is
    /// cancelled, the object is aborted.
    public func put(
        _ id: ObjectID, size: Int, metadata: [UInt8] = [], waitForSpace: Wait = .no,
        _ write: (UnsafeMutableRawBufferPointer) throws -> Void
    ) async throws {
        try checkSize(size, "size")
        let reply = try await call(.create(
            id: id, dataSize: size, metadataSize: metadata.count, timeoutMilliseconds: waitForSpace.milliseconds))
        let bytes = try writableBytes(id, dataSize: size, metadata: metadata, reply: reply).bytes
        do {
            try write(bytes.data)
            try expectDone(try await call(.seal(id: id)))
            post(.release(ids: [id]))
        } catch {
            // Sent after the seal (if any) so the store sees them in this order: abort undoes an unsealed
            // object; if it was sealed, the abort is refused and the release gives the reference back.
            post(.abort(id: id))
            post(.release(ids: [id]))
            throw error
        }
    }

    /// Creates, copies in and seals in one round trip; keeps no reference.
    public func createAndSeal(_ id: ObjectID, data: [UInt8], metadata: [UInt8] = [], waitForSpace: Wait = .no) async throws {
        try expectDone(try await call(.createAndSeal(
            InlineObject(id: id, data: data, metadata: metadata), timeoutMilliseconds: waitForSpace.milliseconds)))
    }

    // MARK: Everything else

    /// Whether the store has a sealed object with this id (an unsealed one doesn't count).
    public func contains(_ id: ObjectID) async throws -> Bool {
        try containsReply(try await call(.contains(id: id)))
    }

    /// Deletes sealed objects; one status per id, in order: `ok`, `objectNotFound`, or `deletionDeferred`
    /// when someone still holds the object (it goes with the last release).
    @discardableResult
    public func delete(_ ids: [ObjectID]) async throws -> [PlasmaStatus] {
        try statuses(try await call(.delete(ids: ids)), count: ids.count)
    }

    /// Evicts at least `bytes` of sealed, unreferenced objects, least recently released first (fewer if
    /// fewer are evictable); returns what went.
    @discardableResult
    public func evict(_ bytes: Int) async throws -> (bytes: Int, objects: Int) {
        try checkSize(bytes, "bytes to evict")
        return try evictedReply(try await call(.evict(bytes: bytes)))
    }

    /// Every object in the store, sealed or not, with its sizes, references and state.
    public func list() async throws -> [ObjectInfo] {
        try listReply(try await call(.list))
    }

    /// The store's counters and gauges (`plasma stats` shows the same).
    public func statistics() async throws -> StoreStatistics {
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
    public func events(for ids: [ObjectID]) -> AsyncThrowingStream<ObjectEvent, any Error> {
        connection.events(matching: .ids(ids))
    }

    /// Events about every object whose id starts with `prefix` (1 to 20 bytes): a namespace.
    public func events(prefix: [UInt8]) -> AsyncThrowingStream<ObjectEvent, any Error> {
        connection.events(matching: .prefix(prefix))
    }

    /// Events about every object.
    public func allEvents() -> AsyncThrowingStream<ObjectEvent, any Error> {
        connection.events(matching: .all)
    }
}
