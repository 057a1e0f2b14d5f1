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
                let (present, revision) = try await client.range(folder, prefix: true)
                emit(state.withLock { resynchronize(folder, present: present, state: &$0) })
                failures = 0
                try await client.watch(prefix: folder, startRevision: revision + 1) { batch in
                    emit(state.withLock { state in batch.events.compactMap { changed($0, folder: folder, state: &state) } })
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

    /// The events one watched change gives.
    private func changed(_ event: EtcdWatchEvent, folder: String, state: inout DirectoryState) -> ClusterEvent? {
        let key = event.keyValue.key
        if folder == keys.wants {
            guard let (id, node) = keys.parse(key, under: keys.wants), node != localNode.name else { return nil }
            let want = RemoteWant(id: id, node: node)
            switch event.kind {
            case .put: return state.remoteWants.insert(want).inserted ? .wanted(id, byNode: node) : nil
            case .delete: return state.remoteWants.remove(want) != nil ? .unwanted(id, byNode: node) : nil
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

    /// `.located` for another node's location of an id this node wants and hasn't been told of.
    func locationAppeared(_ keyValue: EtcdKeyValue, in state: inout DirectoryState) -> ClusterEvent? {
        guard let (id, node) = keys.parse(keyValue.key, under: keys.locations), node != localNode.name,
              state.wants.contains(id), state.reported[id]?.contains(node) != true,
              let location = DirectoryRecords.location(from: keyValue.value, id: id, node: node)
        else { return nil }
        state.reported[id, default: []].insert(node)
        return .located(location)
    }

    /// The events that bring what was reported in line with `present`, the folder's whole content now.
    private func resynchronize(_ folder: String, present: [EtcdKeyValue], state: inout DirectoryState) -> [ClusterEvent] {
        var events: [ClusterEvent] = []
        if folder == keys.wants {
            let now = Set(present.compactMap { keys.parse($0.key, under: keys.wants) }
                .filter { $0.node != localNode.name }.map { RemoteWant(id: $0.id, node: $0.node) })
            events += state.remoteWants.subtracting(now).map { .unwanted($0.id, byNode: $0.node) }
            events += now.subtracting(state.remoteWants).map { .wanted($0.id, byNode: $0.node) }
            state.remoteWants = now
            return events
        }
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
