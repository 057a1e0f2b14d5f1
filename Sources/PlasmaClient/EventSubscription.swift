import PlasmaCore
import PlasmaPosix

/// A blocking client's subscription (``PlasmaClient/PlasmaClient/events(for:)``): the events the
/// store sends about the objects it matches, taken one at a time with ``next(timeout:)``, in the order
/// the store sent them. The async client's `events` give the same events as a ``PlasmaStream``.
///
/// Events are read from the socket whenever a thread calls into the client, and queued here (bounded:
/// past 65,536 unread events, an `overflow` event counts the ones dropped). Safe to share between
/// threads. Unsubscribes with ``cancel()`` or when dropped.
public final class EventSubscription: Sendable {
    private let connection: ClientConnection
    private let id: UInt64

    init(_ connection: ClientConnection, id: UInt64) {
        self.connection = connection
        self.id = id
    }

    /// The next event, waiting up to `timeout` for it (the same ``Wait`` as a get); `nil` when the
    /// timeout passes first, and at once after ``cancel()``.
    public func next(timeout: Wait = .forever) throws(PlasmaClientError) -> ObjectEvent? {
        try connection.nextEvent(id, deadline: timeout.deadline(from: MonotonicClock.nanoseconds()))
    }

    /// Unsubscribes in the store; `next` returns nil from now on. Cancelling twice does nothing.
    public func cancel() {
        connection.unsubscribe(id)
    }

    deinit { cancel() }
}
