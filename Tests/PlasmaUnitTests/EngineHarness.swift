import PlasmaCore
@testable import PlasmaEngine
@testable import PlasmaStore
import PlasmaWire
import Testing

/// One reply the native adapter emitted.
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

/// The native adapter over a `StoreEngine` with a private heap "arena", a hand-moved clock and a log of
/// every reply (and event). The Arrow adapter is there too, over the same engine (`arrow`).
///
/// Each helper sends one request with a fresh request id and returns the reply it produced right away
/// (nil when the request is waiting). Replies that arrive later are found with `reply(to:)`.
final class EngineHarness: EngineObserver {
    let clock = TestClock()
    let memory: UnsafeMutableRawBufferPointer
    let engine: StoreEngine
    let native: NativeAdapter
    let arrow: ArrowAdapter
    private(set) var replies: [RecordedReply] = []
    private(set) var events: [(SubscriptionKey, ObjectEvent)] = []
    private var nextRequestID: UInt64 = 1
    /// Sessions of the clients made with `arrowClient()`.
    private(set) var arrowSessions: [ClientID: ArrowSession] = [:]
    /// Arrow answers that came later (waiting gets), in order.
    private(set) var arrowLateResponses: [(ClientID, ArrowResponse)] = []

    /// - Parameter arenaSize: defaults to the capacity rounded up to the allocator's 64-byte unit.
    init(capacity: Int, arenaSize: Int? = nil, spillSink: SpillSink? = nil,
         configure: (inout StoreEngine.Configuration) -> Void = { _ in }) {
        let size = arenaSize ?? (capacity + 63) / 64 * 64
        memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 64)
        memory.initializeMemory(as: UInt8.self, repeating: 0)
        var configuration = StoreEngine.Configuration(capacity: capacity)
        configure(&configuration)
        engine = StoreEngine(
            configuration: configuration, memory: UnsafeMutableRawBufferPointer(rebasing: memory[0..<size]),
            allocator: Allocator(size: size), clock: clock, spillSink: spillSink)
        native = NativeAdapter(engine: engine, arenaSize: size)
        arrow = ArrowAdapter(engine: engine, segment: 3, arenaSize: size)
        native.replySink = { [unowned self] client, requestID, type, reply in
            replies.append(RecordedReply(client: client, requestID: requestID, type: type, reply: reply))
        }
        engine.observer = self
    }

    // MARK: EngineObserver, as the server routes it

    func getAnswered(client: ClientID, ticket: UInt64, _ answer: Result<[ObjectLocation?], EngineError>) {
        if let session = arrowSessions[client] {
            if let response = arrow.getAnswered(answer, ticket: ticket, session: session) { arrowLateResponses.append((client, response)) }
        } else {
            native.getAnswered(client: client, ticket: ticket, answer)
        }
    }

    func createAnswered(client: ClientID, ticket: UInt64, sealing: Bool, _ answer: Result<CreateOutcome, EngineError>) {
        native.createAnswered(client: client, ticket: ticket, sealing: sealing, answer)
    }

    func deliver(_ event: ObjectEvent, to subscription: SubscriptionKey) { events.append((subscription, event)) }

    /// A client that speaks Arrow.
    func arrowClient() -> ClientID {
        let client = engine.connect()
        arrow.adopt(client)
        arrowSessions[client] = ArrowSession()
        return client
    }

    /// Runs an Arrow request for an `arrowClient()`; returns its reply (nil for none).
    @discardableResult
    func arrowSend(_ request: ArrowRequest, from client: ClientID) -> ArrowReply? {
        arrow.handle(request, session: arrowSessions[client]!, client: client).reply
    }

    func disconnect(_ client: ClientID) {
        engine.disconnect(client)
        if arrowSessions.removeValue(forKey: client) != nil { arrow.clientLeft(client) }
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
        native.handle(request, requestID: requestID, from: client)
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
