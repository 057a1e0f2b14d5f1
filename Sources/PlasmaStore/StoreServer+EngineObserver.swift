import PlasmaCore
import PlasmaEngine

/// What the server counts itself, for `stats`: the engine doesn't see connections or their queues.
struct ServerCounters {
    /// Events dropped from native subscribers' full queues.
    var droppedEvents = 0
    /// Connections refused by a client limit (StoreServer+DialectLimits.swift).
    var refusedConnections = 0
    /// Arrow subscriptions dropped for a full backlog or a failed write (StoreServer+Arrow.swift).
    var droppedArrowSubscriptions = 0

    func fill(_ statistics: inout StoreStatistics) {
        statistics.eventsDropped = Int64(droppedEvents)
        statistics.connectionsRefused = Int64(refusedConnections)
        statistics.arrowSubscriptionsDropped = Int64(droppedArrowSubscriptions)
    }
}

/// The engine's observer: holds the server weakly (the engine holds its observer weakly, the server
/// holds this) and keeps the observer calls out of the server's public interface.
final class EngineRelay: EngineObserver {
    unowned let server: StoreServer

    init(server: StoreServer) { self.server = server }

    func getAnswered(client: ClientID, ticket: UInt64, _ answer: Result<[ObjectLocation?], EngineError>) {
        server.getAnswered(client: client, ticket: ticket, answer)
    }

    func createAnswered(client: ClientID, ticket: UInt64, sealing: Bool, _ answer: Result<CreateOutcome, EngineError>) {
        server.createAnswered(client: client, ticket: ticket, sealing: sealing, answer)
    }

    func deliver(_ event: ObjectEvent, to subscription: SubscriptionKey) { server.deliver(event, to: subscription) }

    func published(_ event: ObjectEvent) { server.logArrowEvent(event) }
}

/// What the engine emits after a command has returned goes to the adapter of the connection it is for.
extension StoreServer {
    /// The connection of `client` if it can still take output.
    private func liveConnection(_ client: ClientID) -> Connection? {
        guard let connection = connections[client], !connection.isClosed, connection.closeReason == nil else { return nil }
        return connection
    }

    func getAnswered(client: ClientID, ticket: UInt64, _ answer: Result<[ObjectLocation?], EngineError>) {
        guard let connection = liveConnection(client) else { return }
        switch connection.dialect {
        case .arrow:
            guard let session = connection.arrow,
                  let response = arrow.getAnswered(answer, ticket: ticket, session: session) else { return }
            sendArrow(response, to: connection)
        case .native, .undetermined:
            native.getAnswered(client: client, ticket: ticket, answer)
        }
    }

    func createAnswered(client: ClientID, ticket: UInt64, sealing: Bool, _ answer: Result<CreateOutcome, EngineError>) {
        // Only native creates wait (Arrow's never do).
        guard let connection = liveConnection(client), connection.dialect == .native else { return }
        native.createAnswered(client: client, ticket: ticket, sealing: sealing, answer)
    }

    /// Native subscribers only: Arrow subscribers hear every event through the log (`published`).
    func deliver(_ event: ObjectEvent, to subscription: SubscriptionKey) {
        guard let connection = liveConnection(subscription.client), connection.dialect != .arrow else { return }
        enqueueNative(event, subscriptionID: subscription.subscriptionID, on: connection)
    }
}
