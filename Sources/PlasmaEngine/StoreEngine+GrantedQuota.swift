import DequeModule
import PlasmaCore

/// Quotas clients ask for (`grantQuota`), as opposed to the configured `clientQuota` every client has.
struct GrantedQuotas {
    struct Client {
        var quota: Int
        /// Objects charged to the quota, oldest first; entries whose object is gone or was demoted are
        /// skipped when walked (quota clients are rare, so the walk is cheap enough).
        var charged: Deque<ObjectID> = []
    }

    var clients: [ClientID: Client] = [:]
    /// Sum of the quotas granted. It only decides whether the next quota is granted; nothing is
    /// reserved: other clients may still fill the whole capacity (one LRU for all).
    var granted = 0

    mutating func clientLeft(_ client: ClientID) {
        guard let state = clients.removeValue(forKey: client) else { return }
        // Its quota returns to the pool; its objects stay in the one global LRU they were always in.
        granted -= state.quota
    }
}

/// A granted quota bounds the bytes charged to a client by its immediate creates: past it, the
/// client's own oldest objects make room (unreferenced ones are evicted, referenced ones are no longer
/// charged to it, "demoted" to the global LRU) before the store's LRU is touched.
extension StoreEngine {
    /// Grants `client` a quota of `bytes`, at most once per client, and only while the quotas granted
    /// leave at least `reserveFraction` of the capacity to everyone else; false when refused.
    public func grantQuota(_ bytes: Int, to client: ClientID, leaving reserveFraction: Double) -> Bool {
        guard isConnected(client), quotas.clients[client] == nil, bytes >= 0,
              Double(capacity - quotas.granted - bytes) >= Double(capacity) * reserveFraction
        else { return false }
        quotas.clients[client] = GrantedQuotas.Client(quota: bytes)
        quotas.granted += bytes
        return true
    }

    /// The sum of the quotas granted, and each client's, in client order.
    public var grantedQuotas: (total: Int, byClient: [(client: ClientID, bytes: Int)]) {
        (quotas.granted, quotas.clients.map { ($0.key, $0.value.quota) }.sorted { $0.client < $1.client })
    }

    /// Evictions owed to a create: larger than the quota fails; otherwise the client's oldest charged
    /// objects make room. True when the create may go on.
    func makeRoomInQuota(_ size: Int, for client: ClientID, evictIfFull: Bool) -> Bool {
        guard evictIfFull, var state = quotas.clients[client] else { return true }
        guard size <= state.quota else { return false }
        var charged = chargedBytes(of: client, state: &state)
        while charged + size > state.quota, let id = state.charged.popFirst() {
            guard let slot = objects.slot(of: id), objects[slot].quotaOwner == client else { continue }
            charged -= objects[slot].totalSize
            objects[slot].quotaOwner = nil
            if objects[slot].isEvictable { evict(slot) }
        }
        collectSpills(waiting: true)  // the create that follows needs the room now
        quotas.clients[client] = state
        return true
    }

    /// Bytes charged to `client`'s quota now; drops stale entries on the way.
    private func chargedBytes(of client: ClientID, state: inout GrantedQuotas.Client) -> Int {
        var seen = Set<ObjectID>()
        var live: Deque<ObjectID> = []
        var total = 0
        for id in state.charged where seen.insert(id).inserted {
            guard let slot = objects.slot(of: id), objects[slot].quotaOwner == client else { continue }
            live.append(id)
            total += objects[slot].totalSize
        }
        state.charged = live
        return total
    }

    func chargeQuota(_ id: ObjectID, to client: ClientID) {
        guard quotas.clients[client] != nil, let slot = objects.slot(of: id) else { return }
        objects[slot].quotaOwner = client
        quotas.clients[client]!.charged.append(id)
    }
}
