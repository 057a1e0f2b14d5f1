#if Cluster
import PlasmaClusterCore
import PlasmaCore

extension EtcdDirectory {
    /// One of the two watches: reads the prefix whole (reporting what changed while it didn't watch), then
    /// watches from the next revision; after a compaction or a broken stream, starts over.
    func runWatch(of folder: String) async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let revision = try await readWhole(folder)
                failures = 0
                if folder == keys.locations { retryDeferred() }  // what changed while not watching
                try await client.watch(prefix: folder, startRevision: revision + 1) { batch in
                    var overLimit: [String] = []
                    emit(state.withLock { state in
                        if folder == keys.locations { state.locationsRevision = max(state.locationsRevision, batch.revision) }
                        return batch.events.compactMap { changed($0, folder: folder, state: &state, overLimit: &overLimit) }
                    })
                    overLimit.forEach(logOverLimit)
                    if folder == keys.locations { locationsChanged(batch.events) }
                }
            } catch .compacted {
                continue  // read it whole again
            } catch {
                guard !Task.isCancelled else { return }
                failures += 1
                troubleSeen("watch of \(folder) broke: \(error)", resync: false)
                try? await Task.sleep(for: .milliseconds(min(2000, 100 << min(failures, 5))))
            }
        }
    }

    /// Another node's location changed: a publish deferred for its `first/` may go now (the first
    /// publisher adds its checksum to its location and `first/` together, or its location goes with it).
    private func locationsChanged(_ events: [EtcdWatchEvent]) {
        let ids = state.withLock { state -> [ObjectID] in
            guard !state.deferred.isEmpty || !state.checkingFirst.isEmpty else { return [] }
            var due: [ObjectID] = []
            for event in events {
                guard let (id, node) = keys.parse(event.keyValue.key, under: keys.locations), node != localNode.name else { continue }
                if state.deferred.contains(id) { due.append(id) }
                if state.checkingFirst[id] != nil { state.checkingFirst[id] = true }
            }
            return due
        }
        if !ids.isEmpty { retryDeferred(ids) }
    }

    /// Reads `folder` page by page at one revision and reports what changed since it was last known;
    /// returns the revision. Wants beyond a node's limit are dropped as the pages come, so that what
    /// the read keeps is bounded too; locations exist only for wanted ids.
    private func readWhole(_ folder: String) async throws(EtcdError) -> Int64 {
        let limit = configuration.maximumWantsPerNode
        var wants: Set<RemoteWant> = [], counts: [String: Int] = [:], ignored: [String: Int] = [:]
        var locations: [EtcdKeyValue] = []
        let revision = try await client.rangePages(folder, pageSize: configuration.rangePageSize) { page in
            guard folder == keys.wants else { return locations += page }
            for keyValue in page {
                guard let (id, node) = keys.parse(keyValue.key, under: keys.wants), node != localNode.name else { continue }
                guard counts[node, default: 0] < limit else {
                    ignored[node, default: 0] += 1
                    continue
                }
                if wants.insert(RemoteWant(id: id, node: node)).inserted { counts[node, default: 0] += 1 }
            }
        }
        if folder == keys.wants {
            emit(state.withLock { state in
                state.remoteWantCounts = counts
                state.nodesOverLimit = state.nodesOverLimit.intersection(ignored.keys)
                return resynchronizeWants(wants, state: &state)
            })
            for (node, count) in ignored.sorted(by: { $0.key < $1.key }) { wantsOverLimit(node, count: count) }
        } else {
            emit(state.withLock { resynchronizeLocations(locations, state: &$0) })
        }
        return revision
    }

    /// Counts `count` ignored wants of `node` (over ``EtcdDirectoryConfiguration/maximumWantsPerNode``);
    /// logs once until the node drops below the limit again.
    private func wantsOverLimit(_ node: String, count: Int) {
        let first = state.withLock { state in
            state.wantsIgnored += count
            return state.nodesOverLimit.insert(node).inserted
        }
        if first { logOverLimit(node) }
    }

    private func logOverLimit(_ node: String) {
        logger.warning("node \(node) wants more than \(configuration.maximumWantsPerNode) ids at once: its further wants are ignored (not served from here) until it has fewer")
    }

    /// The events one watched change gives.
    private func changed(_ event: EtcdWatchEvent, folder: String, state: inout DirectoryState, overLimit: inout [String]) -> ClusterEvent? {
        let key = event.keyValue.key
        if folder == keys.wants {
            guard let (id, node) = keys.parse(key, under: keys.wants), node != localNode.name else { return nil }
            let want = RemoteWant(id: id, node: node)
            switch event.kind {
            case .put:
                guard !state.remoteWants.contains(want) else { return nil }
                guard state.remoteWantCounts[node, default: 0] < configuration.maximumWantsPerNode else {
                    state.wantsIgnored += 1
                    if state.nodesOverLimit.insert(node).inserted { overLimit.append(node) }
                    return nil
                }
                state.remoteWants.insert(want)
                state.remoteWantCounts[node, default: 0] += 1
                return .wanted(id, byNode: node)
            case .delete:
                guard state.remoteWants.remove(want) != nil else { return nil }
                state.remoteWantCounts[node, default: 0] -= 1
                if state.remoteWantCounts[node] == 0 { state.remoteWantCounts[node] = nil }
                if state.remoteWantCounts[node, default: 0] < configuration.maximumWantsPerNode { state.nodesOverLimit.remove(node) }
                return .unwanted(id, byNode: node)
            }
        }
        switch event.kind {
        case .put: return locationAppeared(event.keyValue, in: &state)
        case .delete:
            guard let (id, node) = keys.parse(key, under: keys.locations), node != localNode.name,
                  state.reported[id]?.remove(node) != nil
            else { return nil }
            return .locationGone(id, node: node)
        }
    }

    /// `.located` for another node's location of an id this node wants and hasn't been told of (`again`:
    /// told of or not).
    func locationAppeared(_ keyValue: EtcdKeyValue, in state: inout DirectoryState, again: Bool = false) -> ClusterEvent? {
        guard let (id, node) = keys.parse(keyValue.key, under: keys.locations), node != localNode.name,
              state.wants.contains(id), again || state.reported[id]?.contains(node) != true,
              let location = DirectoryRecords.location(from: keyValue.value, id: id, node: node)
        else { return nil }
        state.reported[id, default: []].insert(node)
        return .located(location)
    }

    /// The events that bring the reported wants of other nodes in line with `now`, all of them now.
    private func resynchronizeWants(_ now: Set<RemoteWant>, state: inout DirectoryState) -> [ClusterEvent] {
        var events: [ClusterEvent] = state.remoteWants.subtracting(now).map { .unwanted($0.id, byNode: $0.node) }
        events += now.subtracting(state.remoteWants).map { .wanted($0.id, byNode: $0.node) }
        state.remoteWants = now
        return events
    }

    /// The events that bring the reported locations in line with `present`, the folder's whole content.
    private func resynchronizeLocations(_ present: [EtcdKeyValue], state: inout DirectoryState) -> [ClusterEvent] {
        var events: [ClusterEvent] = []
        var held: [ObjectID: Set<String>] = [:]
        for keyValue in present {
            guard let (id, node) = keys.parse(keyValue.key, under: keys.locations) else { continue }
            held[id, default: []].insert(node)
        }
        for (id, nodes) in state.reported {
            for node in nodes.subtracting(held[id] ?? []) {
                state.reported[id]?.remove(node)
                events.append(.locationGone(id, node: node))
            }
        }
        if state.reannounceLocations {
            state.reannounceLocations = false
            state.reported = [:]
        }
        events += present.compactMap { locationAppeared($0, in: &state) }
        return events
    }
}
#endif
