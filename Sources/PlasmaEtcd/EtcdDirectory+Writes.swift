#if Cluster
import PlasmaClusterCore
import PlasmaCore

extension EtcdDirectory {
    var currentLease: Int64 { state.withLock { $0.lease } }

    /// Sends one flushed batch: want keys in as few transactions as etcd allows, withdrawals, publishes
    /// (first location wins), then reads the present locations of the new wants.
    func write(_ batch: PendingWrites) async throws(EtcdError) {
        let lease = currentLease
        let wantOperations = batch.wants.map { id, wanted -> EtcdOperation in
            let key = keys.want(id, node: localNode.name)
            return wanted ? .put(key: key, value: [], lease: lease) : .delete(key: key, prefix: false)
        }
        for chunk in wantOperations.chunked(etcdMaximumOperationsPerTransaction) {
            _ = try await client.transaction(compare: [], success: chunk)
        }
        for (id, checksum) in batch.unpublishes { try await withdraw(id, checksum: checksum) }
        try await publish(Array(batch.publishes.values), lease: lease)
        try await lookUp(Array(batch.lookups))
    }

    /// Deletes this node's location of `id`, and `first/<id>` when this node holds it with `checksum`.
    private func withdraw(_ id: ObjectID, checksum: UInt64) async throws(EtcdError) {
        let first = keys.first(id), location = keys.location(id, node: localNode.name)
        _ = try await client.transaction(
            compare: [.value(key: first, equals: DirectoryRecords.first(node: localNode.name, checksum: checksum))],
            success: [.delete(key: first, prefix: false), .delete(key: location, prefix: false)],
            failure: [.delete(key: location, prefix: false)])
    }

    /// Publishes `locations`: optimistically as one transaction per 64 (every `first/` key absent: this
    /// node is first for all); else one by one, where an existing `first/` with another checksum refuses.
    func publish(_ locations: [ClusterLocation], lease: Int64) async throws(EtcdError) {
        var accepted: [EtcdOperation] = []
        for chunk in locations.chunked(etcdMaximumOperationsPerTransaction / 2) {
            let together = try await client.transaction(
                compare: chunk.map { .createRevision(key: keys.first($0.id), equals: 0) },
                success: chunk.flatMap { firstAndLocation($0, lease: lease) })
            if together.succeeded { continue }
            for location in chunk {
                let first = keys.first(location.id)
                let alone = try await client.transaction(
                    compare: [.createRevision(key: first, equals: 0)],
                    success: firstAndLocation(location, lease: lease),
                    failure: [.range(key: first, prefix: false)])
                guard !alone.succeeded else { continue }
                guard case .range(let found) = alone.results.first, let value = found.first?.value,
                      let holder = DirectoryRecords.first(from: value)
                else {
                    // `first/` vanished between the two (its holder's lease ended): publish next flush.
                    state.withLock { state in
                        if state.locations[location.id] == location { state.pending.publishes[location.id] = location }
                    }
                    continue
                }
                if holder.checksum == location.checksum {
                    accepted.append(.put(key: keys.location(location.id, node: localNode.name), value: DirectoryRecords.location(location), lease: lease))
                } else {
                    refuse(location, firstNode: holder.node)
                }
            }
        }
        for chunk in accepted.chunked(etcdMaximumOperationsPerTransaction) {
            _ = try await client.transaction(compare: [], success: chunk)
        }
    }

    private func firstAndLocation(_ location: ClusterLocation, lease: Int64) -> [EtcdOperation] {
        [
            .put(key: keys.first(location.id), value: DirectoryRecords.first(node: localNode.name, checksum: location.checksum), lease: lease),
            .put(key: keys.location(location.id, node: localNode.name), value: DirectoryRecords.location(location), lease: lease),
        ]
    }

    private func refuse(_ location: ClusterLocation, firstNode: String) {
        let wasCurrent = state.withLock { state in
            guard state.locations[location.id] == location else { return false }
            state.locations[location.id] = nil
            return true
        }
        guard wasCurrent else { return }
        logger.warning("location of \(location.id.hex) refused: \(firstNode) published it first with other bytes")
        emit([.publishRefused(location.id, firstNode: firstNode)])
    }

    /// Reads the present locations of newly wanted ids and reports those not reported yet.
    func lookUp(_ ids: [ObjectID]) async throws(EtcdError) {
        for chunk in ids.chunked(etcdMaximumOperationsPerTransaction) {
            let answer = try await client.transaction(
                compare: [], success: chunk.map { .range(key: keys.locations(of: $0), prefix: true) })
            let found = answer.results.flatMap { result -> [EtcdKeyValue] in
                if case .range(let keys) = result { return keys }
                return []
            }
            emit(state.withLock { state in found.compactMap { locationAppeared($0, in: &state) } })
        }
    }

    /// Puts this node's record, wants and locations under `lease` (after a reconnection).
    func reregister(lease: Int64) async throws(EtcdError) {
        try await client.put(keys.node(localNode.name), value: DirectoryRecords.node(localNode), lease: lease)
        let (wants, locations) = state.withLock { ($0.wants, Array($0.locations.values)) }
        let puts = wants.map { EtcdOperation.put(key: keys.want($0, node: localNode.name), value: [], lease: lease) }
        for chunk in puts.chunked(etcdMaximumOperationsPerTransaction) {
            _ = try await client.transaction(compare: [], success: chunk)
        }
        try await publish(locations, lease: lease)
    }
}

extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
#endif
