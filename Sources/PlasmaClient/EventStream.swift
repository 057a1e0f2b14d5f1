import PlasmaCore
import PlasmaWire

/// Feeds one subscription's events to its AsyncThrowingStream, with a bounded buffer: when the
/// application reads too slowly, the events that don't fit are dropped and an `overflow` event takes
/// their place as soon as there is room, the same signal the store gives when its queue overflows.
final class EventStream: Sendable {
    static let bufferLimit = 1 << 16

    private let continuation: AsyncThrowingStream<ObjectEvent, any Error>.Continuation
    /// Events dropped here and not yet reported.
    private let dropped = Locked(0)

    init(_ continuation: AsyncThrowingStream<ObjectEvent, any Error>.Continuation) {
        self.continuation = continuation
    }

    /// Called only from the connection's reader thread.
    func deliver(_ event: ObjectEvent) {
        let owed = dropped.withLock { $0 }
        if owed > 0 {
            guard case .enqueued = continuation.yield(.overflow(droppedEvents: owed)) else {
                dropped.withLock { $0 += 1 }
                return
            }
            dropped.withLock { $0 = 0 }
        }
        if case .dropped = continuation.yield(event) { dropped.withLock { $0 += 1 } }
    }

    func finish(throwing error: any Error) {
        continuation.finish(throwing: error)
    }
}
