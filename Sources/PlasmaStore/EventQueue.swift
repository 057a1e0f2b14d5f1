import PlasmaCore
import PlasmaWire

/// Events waiting for one client, with a byte limit: a subscriber that reads too slowly costs the
/// store a bounded amount of memory. On overflow the queued events are dropped and one overflow marker
/// takes their place, so the client knows to resync (`list` / `contains`) instead of silently missing
/// events. Replies never go through here: they are never dropped.
struct EventQueue {
    private(set) var writer = ByteWriter()
    private var queued = 0
    /// Events dropped since the marker now at the head of the queue was written.
    private var droppedSinceMarker = 0
    let limit: Int

    init(limit: Int) { self.limit = limit }

    var isEmpty: Bool { writer.buffer.isEmpty }
    /// Charged to the client-state budget. (The buffer's capacity is at most twice that while events are
    /// queued: it only grows by appends, and is dropped past 256 KiB once they are taken.)
    var byteCount: Int { writer.buffer.count }

    /// Queues `event`; returns how many events were dropped to respect the limit (0 normally).
    /// `room`: a lower limit for this once (what the client-state budget still lets this client hold).
    mutating func append(_ event: ObjectEvent, subscriptionID: UInt64, room: Int = .max) -> Int {
        var dropped = 0
        if writer.buffer.count + event.frameSize > min(limit, room) {
            dropped = queued - (droppedSinceMarker > 0 ? 1 : 0) + 1  // the queue, less the old marker, plus this one
            droppedSinceMarker += dropped
            writer.buffer.removeAll(keepingCapacity: true)
            queued = 1
            ObjectEvent.overflow(droppedEvents: droppedSinceMarker).encode(subscriptionID: 0, into: &writer)
            return dropped
        }
        event.encode(subscriptionID: subscriptionID, into: &writer)
        queued += 1
        return 0
    }

    /// Hands everything queued to `output` (to be written, no longer droppable) and starts afresh.
    /// An empty `output` (the usual case) trades buffers with the queue: nothing is copied or allocated.
    mutating func take(into output: inout [UInt8]) {
        if output.isEmpty {
            swap(&output, &writer.buffer)
        } else {
            output.append(contentsOf: writer.buffer)
        }
        // Capacity is kept only up to a budget floor: an empty queue is not charged.
        writer.buffer.removeAll(keepingCapacity: writer.buffer.capacity <= 256 << 10)
        queued = 0
        droppedSinceMarker = 0
    }
}
