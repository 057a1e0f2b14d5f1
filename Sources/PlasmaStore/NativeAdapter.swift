import PlasmaCore
import PlasmaEngine
import PlasmaWire

/// The native dialect over the engine: each decoded `Request` becomes one engine command, each outcome
/// the `Reply` the native client expects, echoing the request's type and id. Waits are keyed by the
/// request id (the engine's ticket), so answers that come later through the engine's observer find
/// their way back here (`getAnswered`, `createAnswered`).
public final class NativeAdapter {
    /// Receives every reply: to whom, for which request, of which request type.
    public typealias ReplySink = (_ client: ClientID, _ requestID: UInt64, _ type: MessageType, _ reply: Reply) -> Void

    /// The engine every request runs on.
    public let engine: StoreEngine
    /// Told to clients in the connect reply: they map this many bytes.
    public let arenaSize: Int
    /// Where replies go (the server: the connection's outbound buffer).
    public var replySink: ReplySink
    /// Takes a `list` to answer later (the server builds big ones a slice at a time); false: answer now.
    var listBuilder: (_ client: ClientID, _ requestID: UInt64, _ origins: Bool) -> Bool = { _, _, _ in false }

    /// An adapter over `engine`, whose clients map `arenaSize` bytes.
    public init(engine: StoreEngine, arenaSize: Int, replySink: @escaping ReplySink = { _, _, _, _ in }) {
        self.engine = engine
        self.arenaSize = arenaSize
        self.replySink = replySink
    }

    /// Runs one request; a client the engine doesn't know (disconnected) gets no answer.
    public func handle(_ request: Request, requestID: UInt64, from client: ClientID) {
        guard engine.isConnected(client) else { return }
        let type = request.messageType
        func reply(_ reply: Reply) { replySink(client, requestID, type, reply) }
        switch request {
        case .connect:
            reply(.connected(capacity: engine.capacity, arenaSize: arenaSize, clientID: client.rawValue))
        case .create(let id, let dataSize, let metadataSize, let timeout):
            let outcome = engine.create(id, dataSize: dataSize, metadataSize: metadataSize, timeoutMilliseconds: timeout,
                                        client: client, ticket: requestID)
            if let answer = Self.reply(to: outcome) { reply(answer) }
        case .createAndSeal(let object, let timeout):
            let outcome = engine.createAndSeal(object, timeoutMilliseconds: timeout, client: client, ticket: requestID)
            if let answer = Self.reply(to: outcome) { reply(answer) }
        case .createAndSealBatch(let objects):
            reply(.statuses(engine.createAndSealBatch(objects, client: client)))
        case .seal(let id):
            reply(Self.reply(to: engine.seal(id, client: client)))
        case .abort(let id):
            reply(Self.reply(to: engine.abort(id, client: client)))
        case .get(let ids, let timeout):
            switch engine.get(ids, timeoutMilliseconds: timeout, client: client, ticket: requestID) {
            case .answered(let locations): reply(.objects(locations))
            case .waiting: break
            case .failed(let error): reply(Self.failure(error))
            }
        case .release(let ids):
            reply(.statuses(ids.map { engine.release($0, client: client) }))
        case .contains(let id):
            reply(.contains(engine.contains(id)))
        case .delete(let ids):
            reply(.statuses(ids.map { Self.status(of: engine.delete($0)) }))
        case .evict(let bytes):
            let (freed, count) = engine.evict(atLeast: bytes)
            reply(.evicted(bytes: freed, objects: count))
        case .list, .listWithOrigins:
            let origins = request == .listWithOrigins
            if listBuilder(client, requestID, origins) { return }
            // Spilled objects are listed too: they are sealed and come back on get.
            let infos = engine.objectSnapshots().map(\.info).sorted { $0.createdAtNanoseconds < $1.createdAtNanoseconds }
            reply(origins ? .listWithOrigins(infos.map { var info = $0; info.origin = engine.origin(of: info.id); return info }) : .list(infos))
        case .stats:
            reply(.stats(engine.statistics))
        case .subscribe(let subscriptionID, let filter):
            reply(Self.reply(to: engine.subscribe(SubscriptionKey(client: client, subscriptionID: subscriptionID), filter: filter)))
        case .unsubscribe(let subscriptionID):
            reply(Self.reply(to: engine.unsubscribe(SubscriptionKey(client: client, subscriptionID: subscriptionID))))
        case .cancel(let waiting):
            engine.cancel(client: client, ticket: waiting)  // the withdrawn request is answered `cancelled`
            reply(.done)
        }
    }

    // MARK: Answers that come later

    /// A get that waited is answered (the engine's observer call, routed here for native clients).
    public func getAnswered(client: ClientID, ticket: UInt64, _ answer: Result<[ObjectLocation?], EngineError>) {
        switch answer {
        case .success(let locations): replySink(client, ticket, .get, .objects(locations))
        case .failure(let error): replySink(client, ticket, .get, Self.failure(error))
        }
    }

    /// A create that waited is answered (the engine's observer call, routed here for native clients).
    public func createAnswered(client: ClientID, ticket: UInt64, sealing: Bool, _ answer: Result<CreateOutcome, EngineError>) {
        let type: MessageType = sealing ? .createAndSeal : .create
        switch answer {
        case .success(let outcome): if let reply = Self.reply(to: outcome) { replySink(client, ticket, type, reply) }
        case .failure(let error): replySink(client, ticket, type, Self.failure(error))
        }
    }

    // MARK: Outcomes as replies

    static func failure(_ error: EngineError) -> Reply { .failure(error.status, message: error.message) }

    /// nil while the create waits.
    static func reply(to outcome: CreateOutcome) -> Reply? {
        switch outcome {
        case .created(let location): .created(offset: location.offset)
        case .sealed: .done
        case .waiting: nil
        case .failed(let error): failure(error)
        }
    }

    static func reply(to result: Result<Void, EngineError>) -> Reply {
        switch result {
        case .success: .done
        case .failure(let error): failure(error)
        }
    }

    static func status(of outcome: DeleteOutcome) -> PlasmaStatus {
        switch outcome {
        case .deleted: .ok
        case .deferredUntilReleased: .deletionDeferred
        case .notSealed, .deferredUntilSealed: .objectNotSealed
        case .notFound: .objectNotFound
        }
    }
}
