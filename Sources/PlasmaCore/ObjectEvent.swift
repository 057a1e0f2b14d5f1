/// Which objects a subscription hears about.
public enum SubscriptionFilter: Sendable, Equatable {
    /// Every object.
    case all
    /// Exactly these ids.
    case ids([ObjectID])
    /// Every id that starts with these bytes (1 to 20): a namespace.
    case prefix([UInt8])

    /// True when events about `id` pass this filter.
    public func matches(_ id: ObjectID) -> Bool {
        switch self {
        case .all: true
        case .ids(let ids): ids.contains(id)
        case .prefix(let bytes): id.bytes.starts(with: bytes)
        }
    }
}

/// What a subscriber is told. Object events carry the id; `overflow` says the store dropped this
/// connection's queued events because it read too slowly: resync with `list` / `contains`.
public enum ObjectEvent: Sendable, Equatable {
    /// The object was sealed and can now be got; also sent at once, on subscribing by id, for an
    /// object that is already sealed.
    case sealed(ObjectID, dataSize: Int, metadataSize: Int)
    /// Removed by a client's delete (when the last reference went, if the delete was deferred).
    case deleted(ObjectID)
    /// Removed to make room (kept apart from an explicit delete).
    case evicted(ObjectID)
    /// Dropped unsealed by its creator (abort or disconnect).
    case aborted(ObjectID)
    /// `droppedEvents` events were dropped since the last overflow because this subscriber read too
    /// slowly; which objects they were about is lost, so resync with `list` / `contains`.
    case overflow(droppedEvents: Int)

    /// The event kind in the frame type (`MessageType.eventBit | kind`).
    public var kind: UInt16 {
        switch self {
        case .sealed: 1
        case .deleted: 2
        case .evicted: 3
        case .aborted: 4
        case .overflow: 5
        }
    }

    /// The object the event is about; nil for ``overflow(droppedEvents:)``.
    public var id: ObjectID? {
        switch self {
        case .sealed(let id, _, _), .deleted(let id), .evicted(let id), .aborted(let id): id
        case .overflow: nil
        }
    }
}
