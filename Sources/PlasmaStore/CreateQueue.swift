import DequeModule
import PlasmaCore
import PlasmaWire

/// A create (or create-and-seal) waiting for space, first come first served.
struct PendingCreate {
    let key: WaitKey
    let id: ObjectID
    let dataSize: Int
    let metadataSize: Int
    /// Present for create-and-seal: the bytes to copy in once space is found.
    let inline: InlineObject?
}

/// Creates that asked to wait when the store was full. Served in arrival order so that a large
/// create is not starved by a stream of small ones.
struct CreateQueue {
    private var queue: Deque<PendingCreate> = []
    /// Creates still wanted, with the request type to answer with.
    private var live: [WaitKey: MessageType] = [:]

    var count: Int { live.count }
    func contains(_ key: WaitKey) -> Bool { live[key] != nil }

    mutating func append(_ create: PendingCreate) {
        queue.append(create)
        live[create.key] = create.inline == nil ? .create : .createAndSeal
    }

    /// The oldest create still wanted; cancelled ones are dropped on the way.
    mutating func first() -> PendingCreate? {
        while let head = queue.first {
            if live[head.key] != nil { return head }
            queue.removeFirst()
        }
        return nil
    }

    mutating func removeFirst() {
        let head = queue.removeFirst()
        live[head.key] = nil
    }

    /// Cancels a waiting create; its queue entry is discarded lazily.
    /// Returns the request type of the cancelled create, nil when it wasn't waiting.
    @discardableResult
    mutating func cancel(_ key: WaitKey) -> MessageType? {
        live.removeValue(forKey: key)
    }
}
