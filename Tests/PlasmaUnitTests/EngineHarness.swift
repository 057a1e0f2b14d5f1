import PlasmaCore
import PlasmaStore
import PlasmaWire
import Synchronization
import Testing

/// A clock the tests move by hand. The engine's clock closures must be `@Sendable`; a `Mutex` makes
/// the class honestly Sendable (the tests are single-threaded anyway, so the lock is never contended).
final class TestClock: Sendable {
    private let now = Mutex<(monotonic: UInt64, wall: Int64)>((1_000_000_000, 1_700_000_000_000_000_000))

    var monotonicNanoseconds: UInt64 { now.withLock { $0.monotonic } }
    var wallNanoseconds: Int64 { now.withLock { $0.wall } }

    func advance(milliseconds: Int64) { advance(nanoseconds: UInt64(milliseconds) * 1_000_000) }

    func advance(nanoseconds: UInt64) {
        now.withLock {
            $0.monotonic += nanoseconds
            $0.wall += Int64(nanoseconds)
        }
    }

    var engineClock: EngineClock {
        EngineClock(
            monotonicNanoseconds: { [self] in monotonicNanoseconds },
            wallNanoseconds: { [self] in wallNanoseconds })
    }
}


/// One reply the engine emitted.
struct RecordedReply: Equatable {
    var client: ClientID
    var requestID: UInt64
    var type: MessageType
    var reply: Reply
}

extension Reply {
    /// `.ok` for every success, the failure's status otherwise.
    var status: PlasmaStatus {
        if case .failure(let status, _) = self { return status }
        return .ok
    }
}

/// A `StoreEngine` over a private heap "arena", a hand-moved clock and a log of every reply.
///
/// Each helper sends one request with a fresh request id and returns the reply it produced right away
/// (nil when the request is waiting). Replies that arrive later are found with `reply(to:)`.
final class EngineHarness {
    let clock = TestClock()
    let memory: UnsafeMutableRawBufferPointer
    let engine: StoreEngine
    private(set) var replies: [RecordedReply] = []
    private var nextRequestID: UInt64 = 1

    /// - Parameter arenaSize: defaults to the capacity rounded up to the allocator's 64-byte unit.
    init(capacity: Int, arenaSize: Int? = nil, configure: (inout StoreEngine.Configuration) -> Void = { _ in }) {
        let size = arenaSize ?? (capacity + 63) / 64 * 64
        memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 64)
        memory.initializeMemory(as: UInt8.self, repeating: 0)
        var configuration = StoreEngine.Configuration(capacity: capacity)
        configure(&configuration)
        engine = StoreEngine(
            configuration: configuration, memory: UnsafeMutableRawBufferPointer(rebasing: memory[0..<size]),
            clock: clock.engineClock)
        engine.replySink = { [unowned self] client, requestID, type, reply in
            replies.append(RecordedReply(client: client, requestID: requestID, type: type, reply: reply))
        }
    }

    deinit { memory.deallocate() }

    var statistics: StoreStatistics { engine.statistics }

    func connect() -> ClientID { engine.connect() }

    func freshRequestID() -> UInt64 {
        defer { nextRequestID += 1 }
        return nextRequestID
    }

    /// Sends `request`; returns the reply to it emitted during this call, if any.
    @discardableResult
    func send(_ request: Request, from client: ClientID, requestID: UInt64? = nil) -> Reply? {
        let requestID = requestID ?? freshRequestID()
        let before = replies.count
        engine.handle(request, requestID: requestID, from: client)
        return replies[before...].last { $0.client == client && $0.requestID == requestID }?.reply
    }

    /// The replies emitted while `body` ran.
    func repliesDuring(_ body: () -> Void) -> [RecordedReply] {
        let before = replies.count
        body()
        return Array(replies[before...])
    }

    /// Every reply `client` has received for `requestID`.
    func replies(to requestID: UInt64, of client: ClientID) -> [Reply] {
        replies.filter { $0.client == client && $0.requestID == requestID }.map(\.reply)
    }

    func repliesReceived(by client: ClientID) -> [RecordedReply] { replies.filter { $0.client == client } }

    // MARK: One helper per request

    @discardableResult
    func create(_ id: ObjectID, data: Int, metadata: Int = 0, timeout: Int64 = 0, from client: ClientID,
                requestID: UInt64? = nil) -> Reply? {
        send(.create(id: id, dataSize: data, metadataSize: metadata, timeoutMilliseconds: timeout),
             from: client, requestID: requestID)
    }

    @discardableResult
    func seal(_ id: ObjectID, from client: ClientID) -> Reply? { send(.seal(id: id), from: client) }

    @discardableResult
    func abort(_ id: ObjectID, from client: ClientID) -> Reply? { send(.abort(id: id), from: client) }

    @discardableResult
    func get(_ ids: [ObjectID], timeout: Int64 = 0, from client: ClientID, requestID: UInt64? = nil) -> Reply? {
        send(.get(ids: ids, timeoutMilliseconds: timeout), from: client, requestID: requestID)
    }

    @discardableResult
    func release(_ ids: [ObjectID], from client: ClientID) -> Reply? { send(.release(ids: ids), from: client) }

    @discardableResult
    func delete(_ ids: [ObjectID], from client: ClientID) -> Reply? { send(.delete(ids: ids), from: client) }

    @discardableResult
    func createAndSeal(_ id: ObjectID, data: [UInt8], metadata: [UInt8] = [], timeout: Int64 = 0,
                       from client: ClientID, requestID: UInt64? = nil) -> Reply? {
        send(.createAndSeal(InlineObject(id: id, data: data, metadata: metadata), timeoutMilliseconds: timeout),
             from: client, requestID: requestID)
    }

    func contains(_ id: ObjectID, from client: ClientID) -> Bool {
        guard case .contains(let present) = send(.contains(id: id), from: client) else {
            Issue.record("contains did not answer .contains")
            return false
        }
        return present
    }

    func list(from client: ClientID) -> [ObjectInfo] {
        guard case .list(let infos) = send(.list, from: client) else {
            Issue.record("list did not answer .list")
            return []
        }
        return infos
    }

    func info(_ id: ObjectID, from client: ClientID) -> ObjectInfo? { list(from: client).first { $0.id == id } }

    /// create + seal + release by `client`: a sealed object nobody references (evictable).
    func put(_ id: ObjectID, size: Int, from client: ClientID, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(create(id, data: size, from: client)?.status == .ok, sourceLocation: sourceLocation)
        #expect(seal(id, from: client) == .done, sourceLocation: sourceLocation)
        #expect(release([id], from: client) == .statuses([.ok]), sourceLocation: sourceLocation)
    }

    /// create + seal by `client`, keeping the creator's reference.
    func putHeld(_ id: ObjectID, size: Int, from client: ClientID, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(create(id, data: size, from: client)?.status == .ok, sourceLocation: sourceLocation)
        #expect(seal(id, from: client) == .done, sourceLocation: sourceLocation)
    }

    /// The engine's own consistency check plus the capacity bound.
    func expectConsistent(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(engine.checkInvariants(), sourceLocation: sourceLocation)
        let statistics = engine.statistics
        #expect(statistics.bytesInUse <= statistics.capacity, sourceLocation: sourceLocation)
        #expect(statistics.bytesInUse >= 0 && statistics.evictableBytes <= statistics.bytesInUse,
                sourceLocation: sourceLocation)
    }
}

/// Readable ids for tests: `testID(1)` and so on; distinct seeds give distinct ids.
func testID(_ seed: UInt8) -> ObjectID {
    ObjectID(bytes: (0..<UInt8(ObjectID.byteCount)).map { $0 &+ seed &* 31 })!
}
