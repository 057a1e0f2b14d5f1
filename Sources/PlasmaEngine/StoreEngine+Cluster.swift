import PlasmaCore

/// The engine's side of a cluster (issue 15): pins for peers that pull an object, pulled copies
/// (reserved unsealed, aborted or sealed with their origin node), and what the server must hear to keep
/// the directory right (tracked ids that leave the arena, watched ids sealed here). Every object the
/// engine keeps for the cluster is referenced by one internal client, the holder, so the usual rules
/// hold: a pinned object is never evicted or freed, a delete of it waits for the unpin, and
/// `checkInvariants` counts the holder's references like any client's.
extension StoreEngine {
    /// Makes this engine part of a cluster: demand is tracked from now on and the holder exists.
    /// Idempotent; call before serving.
    public func enableCluster() {
        guard cluster == nil else { return }
        cluster = EngineCluster(holder: connect())
        waitingGets.touched = []
    }

    /// Whether `enableCluster` was called.
    public var isClustered: Bool { cluster != nil }

    /// Objects pinned now (`pin` without its `unpin`).
    public var pinnedObjects: Int { cluster?.pins ?? 0 }

    // MARK: Pins

    /// Pins a sealed object in the arena (not a spilled one: a peer is told it isn't held): it stays
    /// allocated and unchanged until `unpin`. Nil when absent, unsealed, spilled, or without a cluster.
    public func pin(_ id: ObjectID) -> ObjectLocation? {
        guard let cluster, let slot = objects.slot(of: id), objects[slot].state == .sealed, !isLeaving(id) else { return nil }
        addReferences(1, at: slot, for: cluster.holder)
        cluster.pins += 1
        return objects[slot].location
    }

    /// Lets one pin of `id` go; false when none is held. The last reference gone, the object is
    /// evictable again (or deleted, if that was asked meanwhile).
    @discardableResult
    public func unpin(_ id: ObjectID) -> Bool {
        guard let cluster, release(id, client: cluster.holder) == .ok else { return false }
        cluster.pins -= 1
        return true
    }

    // MARK: Pulled copies

    /// Reserves an unsealed copy of `id` for a pull: exactly `dataSize + metadataSize` bytes, counted
    /// against capacity like a create, evicting if it must. Fails when the id exists here (present,
    /// being created, spilled), is too large, or no room can be made. Nobody sees it until `sealPull`.
    public func reservePull(_ id: ObjectID, dataSize: Int, metadataSize: Int) -> Result<ObjectLocation, EngineError> {
        guard let cluster else { return .failure(EngineError(.invalidRequest, "not part of a cluster")) }
        let (size, overflow) = dataSize.addingReportingOverflow(metadataSize)
        guard !overflow, dataSize >= 0, metadataSize >= 0, size <= capacity else {
            return .failure(EngineError(.tooLarge, "\(dataSize) + \(metadataSize) bytes, capacity is \(capacity)"))
        }
        if isKnown(id) { return .failure(EngineError(.objectExists, id.hex)) }
        guard let block = reserveSpace(size) else { return .failure(EngineError(.outOfMemory, outOfMemoryDetail(size))) }
        guard case .created(let location) = place(
            id: id, dataSize: dataSize, metadataSize: metadataSize, inline: nil, block: block, client: cluster.holder)
        else { preconditionFailure("a plain create is placed unsealed") }
        return .success(location)
    }

    /// Gives up a reserved copy (the pull failed): its block is freed, nothing was ever visible but an
    /// unsealed row in `list`; gets still waiting for it make the id wanted again.
    @discardableResult
    public func abortPull(_ id: ObjectID) -> Bool {
        guard let cluster, case .success = abort(id, client: cluster.holder) else { return false }
        return true
    }

    /// Seals a reserved copy whose bytes arrived and were checked, recording the node it came from:
    /// the gets waiting for it are answered as at any seal, and it is an ordinary sealed object
    /// (evictable once unreferenced).
    @discardableResult
    public func sealPull(_ id: ObjectID, origin: String) -> Bool {
        guard let cluster, case .success = seal(id, client: cluster.holder) else { return false }
        if objects.slot(of: id) != nil { cluster.origins[id] = origin }  // a delete may have been pending
        _ = release(id, client: cluster.holder)
        return true
    }

    /// The node a pulled copy came from; nil for objects created here (or without a cluster).
    public func origin(of id: ObjectID) -> String? { cluster?.origins[id] }

    // MARK: What the server hears

    /// The server is told (`takeLeftArena`) when `id` leaves the arena: it is published, or its
    /// checksum is cached.
    public func trackLeaving(_ id: ObjectID) { cluster?.tracked.insert(id) }

    /// Tracked ids that left the arena (deleted, evicted, spilled, aborted) since the last call; each is
    /// no longer tracked.
    public func takeLeftArena() -> [ObjectID] {
        guard let cluster, !cluster.left.isEmpty else { return [] }
        defer { cluster.left.removeAll(keepingCapacity: true) }
        return cluster.left
    }

    /// The server hears (`takeWatchedSeals`) when `id` is sealed here, or stops hearing it.
    public func watchSeal(of id: ObjectID, _ watching: Bool) {
        if watching { cluster?.sealWatched.insert(id) } else { cluster?.sealWatched.remove(id) }
    }

    /// Tracked ids left the arena or watched ids were sealed since they were last taken.
    public var hasClusterNews: Bool {
        guard let cluster else { return false }
        return !cluster.left.isEmpty || !cluster.sealed.isEmpty
    }

    /// Watched ids sealed here since the last call.
    public func takeWatchedSeals() -> [ObjectID] {
        guard let cluster, !cluster.sealed.isEmpty else { return [] }
        defer { cluster.sealed.removeAll(keepingCapacity: true) }
        return cluster.sealed
    }

    /// A sealed object's block and sizes, if it is in the arena now (not spilled).
    public func sealedLocation(of id: ObjectID) -> ObjectLocation? {
        guard let slot = objects.slot(of: id), objects[slot].state == .sealed else { return nil }
        return objects[slot].location
    }

    /// An object left the table: the cluster's books follow (called only with a cluster).
    func clusterObjectLeft(_ id: ObjectID, unsealed: Bool) {
        let cluster = cluster!
        if !cluster.origins.isEmpty { cluster.origins[id] = nil }
        if !cluster.tracked.isEmpty, cluster.tracked.remove(id) != nil { cluster.left.append(id) }
        if unsealed { demandMayBegin(id) }
    }

    /// An object was sealed: the server hears of it when it watches the id (called only with a cluster).
    func clusterObjectSealed(_ id: ObjectID) {
        let cluster = cluster!
        if !cluster.sealWatched.isEmpty, cluster.sealWatched.contains(id) { cluster.sealed.append(id) }
    }
}
