import PlasmaCore

/// `--client-quota`: how many bytes one client may keep unevictable.
///
/// A client pins the objects it created and hasn't sealed, and the sealed ones it holds a reference
/// on (`ClientRecord.pinnedBytes`): nothing can evict them, so one client pinning the arena would make
/// every other writer's creates fail. A create of any kind (plain, inline, batch item, a waiting one
/// when its turn comes) is refused when the client's pinned bytes plus the new object would pass the
/// quota. Gets are never refused: they allocate nothing, and their references count, so a client over
/// its quota through gets creates nothing until it releases. Granted quotas, which a client asks for and
/// which evict its own oldest objects, are another mechanism (StoreEngine+GrantedQuota.swift).
extension StoreEngine {
    /// Why a create of `size` bytes by `client` would pass its quota; nil when it fits (or no quota).
    func quotaRefusal(_ size: Int, for client: ClientID) -> String? {
        guard let quota = configuration.clientQuota, let pinned = clients[client]?.pinnedBytes,
              pinned + size > quota
        else { return nil }
        return "client quota exceeded: \(size) bytes requested, \(pinned) of the \(quota)-byte quota in use (unsealed objects and references this client holds)"
    }

    /// Every client's pinned bytes, recomputed from its references, unsealed objects and the table.
    func pinnedBytesAreExact() -> Bool {
        clients.values.allSatisfy { client in
            var total = 0
            for id in client.unsealed.union(client.references.keys) {
                guard let slot = objects.slot(of: id) else { return false }
                total += objects[slot].totalSize
            }
            return total == client.pinnedBytes
        }
    }
}
