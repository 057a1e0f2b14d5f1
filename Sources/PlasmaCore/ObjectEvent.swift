/// Which objects a subscription hears about.
public enum SubscriptionFilter: Sendable, Equatable {
    /// Every object.
    case all
    /// Exactly these ids.
    case ids([ObjectID])
    /// Every id that starts with these bytes (1 to 20): a namespace.
    case prefix([UInt8])

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
    case sealed(ObjectID, dataSize: Int, metadataSize: Int)
    case deleted(ObjectID)
    /// Removed to make room (kept apart from an explicit delete).
    case evicted(ObjectID)
    /// Dropped unsealed by its creator (abort or disconnect).
    case aborted(ObjectID)
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

    public var id: ObjectID? {
        switch self {
        case .sealed(let id, _, _), .deleted(let id), .evicted(let id), .aborted(let id): id
        case .overflow: nil
        }
    }
}
