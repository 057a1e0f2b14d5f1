import PlasmaCore

/// One subscription of one client.
public struct SubscriptionKey: Hashable, Sendable {
    /// The subscriber.
    public let client: ClientID
    /// The subscriber's name for it (non-zero).
    public let subscriptionID: UInt64

    /// The key of `client`'s subscription `subscriptionID`.
    public init(client: ClientID, subscriptionID: UInt64) {
        self.client = client
        self.subscriptionID = subscriptionID
    }
}

/// Who wants to hear about an object, found without looking at anyone who doesn't.
///
/// Exact ids and whole-store subscribers are one dictionary lookup each; prefixes are one lookup per
/// distinct prefix length in use (at most 20). So an event costs O(1 + interested subscriptions),
/// never O(all clients): no broadcast to everyone.
struct SubscriptionIndex {
    private var filters: [SubscriptionKey: SubscriptionFilter] = [:]
    private var byID: [ObjectID: [SubscriptionKey]] = [:]
    private var byPrefix: [PrefixKey: [SubscriptionKey]] = [:]
    /// How many prefix subscriptions use each length.
    private var prefixLengths: [Int: Int] = [:]
    private var everything: Set<SubscriptionKey> = []

    /// A prefix as a lookup key: the id's first `length` bytes, the rest zeroed.
    private struct PrefixKey: Hashable {
        let length: Int
        let masked: ObjectID
    }

    var count: Int { filters.count }

    func filter(of key: SubscriptionKey) -> SubscriptionFilter? { filters[key] }

    mutating func add(_ key: SubscriptionKey, _ filter: SubscriptionFilter) {
        remove(key)
        filters[key] = filter
        switch filter {
        case .all:
            everything.insert(key)
        case .ids(let ids):
            for id in Set(ids) { byID[id, default: []].append(key) }
        case .prefix(let bytes):
            byPrefix[Self.prefixKey(bytes), default: []].append(key)
            prefixLengths[bytes.count, default: 0] += 1
        }
    }

    @discardableResult
    mutating func remove(_ key: SubscriptionKey) -> Bool {
        guard let filter = filters.removeValue(forKey: key) else { return false }
        switch filter {
        case .all:
            everything.remove(key)
        case .ids(let ids):
            for id in Set(ids) { Self.drop(key, from: &byID, at: id) }
        case .prefix(let bytes):
            Self.drop(key, from: &byPrefix, at: Self.prefixKey(bytes))
            prefixLengths[bytes.count]! -= 1
            if prefixLengths[bytes.count] == 0 { prefixLengths[bytes.count] = nil }
        }
        return true
    }

    /// Every subscription whose filter matches `id`.
    func subscribers(of id: ObjectID) -> [SubscriptionKey] {
        var found = byID[id] ?? []
        if !everything.isEmpty { found.append(contentsOf: everything) }
        for length in prefixLengths.keys {
            if let keys = byPrefix[PrefixKey(length: length, masked: id.prefix(length))] { found.append(contentsOf: keys) }
        }
        return found
    }

    private static func prefixKey(_ bytes: [UInt8]) -> PrefixKey {
        let padded = bytes + [UInt8](repeating: 0, count: ObjectID.byteCount - bytes.count)
        return PrefixKey(length: bytes.count, masked: ObjectID(bytes: padded)!)
    }

    private static func drop<Key: Hashable>(_ key: SubscriptionKey, from index: inout [Key: [SubscriptionKey]], at slot: Key) {
        guard var keys = index[slot] else { return }
        keys.removeAll { $0 == key }
        index[slot] = keys.isEmpty ? nil : keys
    }
}
