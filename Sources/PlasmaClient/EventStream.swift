import PlasmaCore
import PlasmaWire

/// Feeds one subscription's events to its AsyncThrowingStream, with a bounded buffer: when the
/// application reads too slowly, the events that don't fit are dropped and an `overflow` event takes
/// their place as soon as there is room, the same signal the store gives when its queue overflows.
final class EventStream: @unchecked Sendable {
    // @unchecked: `dropped` is touched only by `deliver`, on the read loop's thread.
    static let bufferLimit = 1 << 16

    private let continuation: AsyncThrowingStream<ObjectEvent, any Error>.Continuation
    /// Events dropped here and not yet reported.
    private var dropped = 0

    init(_ continuation: AsyncThrowingStream<ObjectEvent, any Error>.Continuation) {
        self.continuation = continuation
    }

    /// Called only from the read loop's thread (`ReadLoop`).
    func deliver(_ event: ObjectEvent) {
        if dropped > 0 {
            guard case .enqueued = continuation.yield(.overflow(droppedEvents: dropped)) else {
                dropped += 1
                return
            }
            dropped = 0
        }
        if case .dropped = continuation.yield(event) { dropped += 1 }
    }

    func finish(throwing error: any Error) {
        continuation.finish(throwing: error)
    }
}
