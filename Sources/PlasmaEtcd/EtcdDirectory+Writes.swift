#if Cluster
import PlasmaClusterCore
import PlasmaCore

extension EtcdDirectory {
    var currentLease: Int64 { state.withLock { $0.lease } }

    /// Sends one flushed batch: want keys and the reads of the new wants' present locations in one
    /// transaction when they fit (one round trip for a get whose object is already published
    /// elsewhere), else want keys in transactions of 128 then the reads; withdrawals; publishes (first
    /// location wins); then the reads asked for again.
    func write(_ batch: PendingWrites) async throws(EtcdError) {
        let lease = currentLease
        let wantOperations = batch.wants.map { id, wanted -> EtcdOperation in
            let key = keys.want(id, node: localNode.name)
            return wanted ? .put(key: key, value: [], lease: lease) : .delete(key: key, prefix: false)
        }
        let lookups = Array(batch.lookups)
        if wantOperations.isEmpty && lookups.isEmpty {
            // Nothing to want or read: no transaction.
        } else if wantOperations.count + lookups.count <= etcdMaximumOperationsPerTransaction {
            let reads = locationReads(lookups)
            let answer = try await client.transaction(compare: [], success: wantOperations + reads)
            // Older than a location event the watch applied meanwhile: read again (``lookUp(_:again:)``).
            if !report(answer.results.suffix(reads.count), revision: answer.revision, final: false) { try await lookUp(lookups) }
        } else {
            for chunk in wantOperations.chunked(etcdMaximumOperationsPerTransaction) {
                _ = try await client.transaction(compare: [], success: chunk)
            }
            try await lookUp(lookups)
        }
        for (id, checksum) in batch.unpublishes { try await withdraw(id, checksum: checksum) }
        try await publish(Array(batch.publishes.values), lease: lease)
        try await lookUp(Array(batch.relocations), again: true)
    }

    /// Deletes this node's location of `id`, and `first/<id>` when it is this node's (with `checksum`, or
    /// with the record it had before its checksum was added).
    private func withdraw(_ id: ObjectID, checksum: UInt64?) async throws(EtcdError) {
        let first = keys.first(id), location = keys.location(id, node: localNode.name)
        state.withLock { _ = $0.unhashedFirsts.remove(id) }
        let answer = try await client.transaction(
            compare: [.value(key: first, equals: DirectoryRecords.first(node: localNode.name, checksum: checksum))],
            success: [.delete(key: first, prefix: false), .delete(key: location, prefix: false)],
            failure: [.delete(key: location, prefix: false), .range(key: first, prefix: false)])
        guard !answer.succeeded, case .range(let found)? = answer.results.last, let value = found.first?.value,
              DirectoryRecords.first(from: value)?.node == localNode.name
        else { return }
        _ = try await client.transaction(compare: [.value(key: first, equals: value)], success: [.delete(key: first, prefix: false)])
    }

    /// Publishes `locations`: optimistically as one transaction per 64 (every `first/` key absent: this
    /// node is first for all); else one by one against the `first/` found (``publishAgainst(_:lease:)``).
    func publish(_ locations: [ClusterLocation], lease: Int64) async throws(EtcdError) {
        var accepted: [EtcdOperation] = []
        var pending = locations
        // This node's own unhashed `first/`, now with the checksum: one compare-and-put each.
        let completing = state.withLock { state in Set(locations.filter { $0.checksum != nil && state.unhashedFirsts.contains($0.id) }.map(\.id)) }
        if !completing.isEmpty {
            pending.removeAll { completing.contains($0.id) }
            for location in locations where completing.contains(location.id) {
                if try await completeFirst(location, lease: lease) { continue }
                pending.append(location)
            }
        }
        for chunk in pending.chunked(etcdMaximumOperationsPerTransaction / 2) {
            let together = try await client.transaction(
                compare: chunk.map { .createRevision(key: keys.first($0.id), equals: 0) },
                success: chunk.flatMap { firstAndLocation($0, lease: lease) })
            if together.succeeded {
                noteFirsts(chunk)
                continue
            }
            for location in chunk {
                if let operation = try await publishAgainst(location, lease: lease) { accepted.append(operation) }
            }
        }
        for chunk in accepted.chunked(etcdMaximumOperationsPerTransaction) {
            _ = try await client.transaction(compare: [], success: chunk)
        }
    }

    /// Publishes one location where `first/` may exist: creates it if absent, else compares with it.
    /// Returns the location's put when it is to be written (batched by the caller).
    private func publishAgainst(_ location: ClusterLocation, lease: Int64) async throws(EtcdError) -> EtcdOperation? {
        let id = location.id, first = keys.first(id)
        state.withLock { $0.checkingFirst[id] = false }
        let alone = try await client.transaction(
            compare: [.createRevision(key: first, equals: 0)],
            success: firstAndLocation(location, lease: lease),
            failure: [.range(key: first, prefix: false)])
        if alone.succeeded {
            state.withLock { _ = $0.checkingFirst.removeValue(forKey: id) }
            noteFirsts([location])
            return nil
        }
        guard case .range(let found) = alone.results.first, let value = found.first?.value,
              let holder = DirectoryRecords.first(from: value)
        else {
            // `first/` vanished between the two (its holder's lease ended): publish next flush.
            state.withLock { state in
                state.checkingFirst[id] = nil
                if state.locations[id] == location { state.pending.publishes[id] = location }
            }
            return nil
        }
        let locationPut = EtcdOperation.put(key: keys.location(id, node: localNode.name), value: DirectoryRecords.location(location), lease: lease)
        switch FirstRule.decide(location, against: holder, localNode: localNode.name) {
        case .put:
            state.withLock { _ = $0.checkingFirst.removeValue(forKey: id) }
            return locationPut
        case .completeOwnFirst:
            state.withLock { _ = $0.checkingFirst.removeValue(forKey: id) }
            let done = try await client.transaction(
                compare: [.value(key: first, equals: value)], success: firstAndLocation(location, lease: lease))
            if !done.succeeded { requeue(location) }
            return nil
        case .waitForOwnChecksum:
            // The store publishes again once it has hashed its copy; compared then.
            state.withLock { _ = $0.checkingFirst.removeValue(forKey: id) }
            return nil
        case .deferUntilFirstHashed:
            deferPublish(location)
            return nil
        case .refuse:
            state.withLock { _ = $0.checkingFirst.removeValue(forKey: id) }
            refuse(location, firstNode: holder.node)
            return nil
        }
    }

    /// Adds the checksum to this node's unhashed `first/` and location; false when `first/` is no longer
    /// that record (the caller publishes the ordinary way).
    private func completeFirst(_ location: ClusterLocation, lease: Int64) async throws(EtcdError) -> Bool {
        let first = keys.first(location.id)
        let done = try await client.transaction(
            compare: [.value(key: first, equals: DirectoryRecords.first(node: localNode.name, checksum: nil))],
            success: firstAndLocation(location, lease: lease))
        state.withLock { _ = $0.unhashedFirsts.remove(location.id) }
        return done.succeeded
    }

    /// Remembers which `first/` keys this node just created without a checksum.
    private func noteFirsts(_ locations: [ClusterLocation]) {
        let unhashed = locations.filter { $0.checksum == nil }.map(\.id)
        guard !unhashed.isEmpty else { return }
        state.withLock { $0.unhashedFirsts.formUnion(unhashed) }
    }

    /// Waits for the first publisher's checksum: retried when a location of the id changes (at once if
    /// one changed while `first/` was being read), else at the next keepalive.
    private func deferPublish(_ location: ClusterLocation) {
        let retryNow = state.withLock { state -> Bool in
            let touched = state.checkingFirst.removeValue(forKey: location.id) ?? false
            guard state.locations[location.id] == location else { return false }
            if touched {
                state.pending.publishes[location.id] = location
                return true
            }
            state.deferred.insert(location.id)
            return false
        }
        logger.debug("location of \(location.id.hex) deferred: the first publisher has not added its checksum yet")
        if retryNow { flush() }
    }

    /// Publishes `location` again at the next flush, if it is still this node's current one.
    private func requeue(_ location: ClusterLocation) {
        let current = state.withLock { state -> Bool in
            guard state.locations[location.id] == location else { return false }
            state.pending.publishes[location.id] = location
            return true
        }
        if current { flush() }
    }

    /// Deferred publishes back into the next batch (`ids`: those whose location changed; nil: all).
    func retryDeferred(_ ids: [ObjectID]? = nil) {
        let any = state.withLock { state -> Bool in
            let due = ids.map { Set($0).intersection(state.deferred) } ?? state.deferred
            for id in due {
                state.deferred.remove(id)
                if let location = state.locations[id] { state.pending.publishes[id] = location }
            }
            return !due.isEmpty
        }
        if any { flush() }
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

    /// Reads of one chunk at most in `lookUp`: one, and more only while each is older than the watch.
    static let lookUpReads = 4

    /// Reads the present locations of wanted ids and reports those not reported yet (`again`: all).
    func lookUp(_ ids: [ObjectID], again: Bool = false) async throws(EtcdError) {
        for chunk in ids.chunked(etcdMaximumOperationsPerTransaction) {
            for attempt in 1...Self.lookUpReads {
                let answer = try await client.transaction(compare: [], success: locationReads(chunk))
                if report(answer.results[...], revision: answer.revision, again: again, final: attempt == Self.lookUpReads) { break }
            }
        }
    }

    /// The range reads of the present locations of `ids`.
    private func locationReads(_ ids: [ObjectID]) -> [EtcdOperation] {
        ids.map { .range(key: keys.locations(of: $0), prefix: true) }
    }

    /// Reports the locations these range results found; false (nothing reported) when the read is older
    /// than location events the watch has applied, unless `final`.
    ///
    /// Such a read may hold a location deleted since: applied after the watch's `.locationGone`, it
    /// reported the dead location again and hid the next one of that node (ClusterDirectoryTests, 1 run
    /// in 35). The caller reads again: the store's revision only grows, so the next read is at least as
    /// new as the watch. (The last read is applied whatever its revision: an answer without one reads
    /// as 0.)
    private func report(_ results: ArraySlice<EtcdOperationResult>, revision: Int64, again: Bool = false, final: Bool) -> Bool {
        let found = results.flatMap { result -> [EtcdKeyValue] in
            if case .range(let keys) = result { return keys }
            return []
        }
        let events: [ClusterEvent]? = state.withLock { state in
            guard revision >= state.locationsRevision || final else { return nil }
            return found.compactMap { locationAppeared($0, in: &state, again: again) }
        }
        guard let events else { return false }
        emit(events)
        return true
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
