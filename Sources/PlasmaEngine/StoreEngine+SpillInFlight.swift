import PlasmaCore

/// A spill the sink is still writing. The object's block stays allocated until it finishes, because the
/// sink reads it meanwhile (on another thread, in the server).
struct SpillInFlight {
    enum Fate {
        /// The object leaves the arena when the write succeeds: it is out of the LRU, still readable.
        case spilling
        /// A get took the object back meanwhile: it stays in the arena, and the copy is discarded.
        case abandoned
        /// The object was deleted meanwhile: only its block waits for the write to end.
        case removed
    }

    let id: ObjectID
    let block: ArenaBlock?
    let size: Int
    let object: SpilledObject
    var fate: Fate
}

/// A restore the sink is still reading into `block`.
struct RestoreInFlight {
    let id: ObjectID
    let block: ArenaBlock?
    let object: SpilledObject
    /// Deleted meanwhile: the block is freed when the read ends, and nothing comes back.
    var cancelled = false
}

/// Spilling off the loop's hot path: evicting to a sink *begins* a spill; the space comes free when the
/// sink reports the write finished (`spillsFinished`). Meanwhile the object stays in the table, sealed
/// and readable, out of the LRU. A get of it keeps it (the spill is abandoned), a delete removes it at
/// once (its block is held until the write ends). A failed spill drops the object as eviction without a
/// sink would, counted in `spill_failures` (the sink logs why); nothing is lost silently.
///
/// Creates that may wait are queued while their room is written out (StoreEngine+Create.swift); callers
/// that must answer now (bulk and batch creates, a get with timeout 0 that restores, the evict command)
/// wait for the sink. Restores in flight (`RestoreInFlight`) are reported by the sink with the spills.
extension StoreEngine {
    /// The sink has finished some spills: apply them, then serve the creates waiting for the space.
    /// The server calls this when its sink signals; a sink that finishes at once needs no call.
    /// Serves even when nothing new finished: a command that waited for the sink may have applied the
    /// sink's reports already (the signal comes anyway) without serving the waiting creates.
    public func spillsFinished() {
        collectSpills(waiting: false)
        serveWaitingCreates()  // restores waiting for room first: gets waiting for them came before
    }

    /// Spills begun and not yet reported finished.
    public var spillsInFlight: Int { external?.inFlight.count ?? 0 }

    /// Restores begun and not yet reported finished.
    public var restoresInFlight: Int { external?.restoring.count ?? 0 }

    /// Applies what the sink has finished; `waiting`: first waits for every spill begun (the loop
    /// stalls). True when any finished.
    @discardableResult
    func collectSpills(waiting: Bool) -> Bool {
        guard let external, sinkBusy else { return false }
        let finished = external.sink.finishedSpills(waitingForAll: waiting)
        for completion in finished { finishSpill(completion) }
        return !finished.isEmpty
    }

    /// Starts moving an evictable object to the sink: it leaves the LRU, so nothing evicts it twice.
    func beginSpill(_ slot: Int32) {
        let external = external!
        let record = objects[slot]
        objects.unlinkEvictable(slot)
        external.leavingBytes += record.totalSize
        if let ticket = external.ticketOf[record.id] {
            // Abandoned by a get, and its write still going: those are the same sealed bytes.
            external.inFlight[ticket]!.fate = .spilling
            external.sink.spillNeeded(true, ticket: ticket)
            return
        }
        let ticket = external.nextTicket
        external.nextTicket += 1
        external.inFlight[ticket] = SpillInFlight(
            id: record.id, block: record.block, size: record.totalSize,
            object: SpilledObject(
                dataSize: record.dataSize, metadataSize: record.metadataSize, digest: record.digest,
                createdAtWallNanoseconds: record.createdAtWallNanoseconds,
                createdAtMonotonicNanoseconds: record.createdAtMonotonicNanoseconds,
                sealDurationNanoseconds: record.sealDurationNanoseconds),
            fate: .spilling)
        external.ticketOf[record.id] = ticket
        let region = UnsafeRawBufferPointer(
            start: record.block == nil ? nil : memory.baseAddress! + record.offset, count: record.block == nil ? 0 : record.totalSize)
        external.sink.beginSpill(record.id, region, dataSize: record.dataSize, ticket: ticket)
    }

    /// A get wants these objects: those being spilled stay in the arena (most recently used).
    func abandonSpills(of ids: [ObjectID]) {
        guard let external, !external.ticketOf.isEmpty else { return }
        for id in ids {
            guard let ticket = external.ticketOf[id], external.inFlight[ticket]?.fate == .spilling,
                  let slot = objects.slot(of: id) else { continue }
            external.inFlight[ticket]!.fate = .abandoned
            external.sink.spillNeeded(false, ticket: ticket)  // so that a failed write isn't logged as a loss
            external.leavingBytes -= objects[slot].totalSize
            if objects[slot].referenceCount == 0, !objects[slot].deletePending { objects.linkEvictable(slot) }
        }
    }

    /// Gives back the block of an object leaving the table, unless a spill is still reading it: then
    /// the block is held until the write ends, and the copy is discarded.
    func freeBlock(of record: ObjectRecord) {
        if let external, let ticket = external.ticketOf.removeValue(forKey: record.id) {
            if external.inFlight[ticket]!.fate == .spilling { external.leavingBytes -= record.totalSize }
            external.inFlight[ticket]!.fate = .removed
            external.heldBytes += record.totalSize
            external.sink.discard(record.id)
            return
        }
        if let block = record.block { allocator.free(block) }
    }

    /// A restore has ended: the object is back (the gets waiting for it are answered as at a seal), or
    /// gone when its bytes couldn't be read, or was deleted meanwhile.
    private func finishRestore(_ restore: RestoreInFlight, succeeded: Bool) {
        let external = external!
        external.restoringBytes -= restore.object.totalSize
        guard !restore.cancelled else {
            if !succeeded { external.restoreFailures += 1 }
            if let block = restore.block { allocator.free(block) }
            return
        }
        external.restoreTicketOf[restore.id] = nil
        guard succeeded else { return restoreFailed(restore.id, block: restore.block) }
        let slot = insertRestored(restore.id, restore.object, block: restore.block)
        answerWaiters(at: slot)
        dropReferences(0, at: slot)  // unreferenced: evictable, the newest
    }

    private func finishSpill(_ completion: SpillCompletion) {
        if let restore = external?.restoring.removeValue(forKey: completion.ticket) {
            return finishRestore(restore, succeeded: completion.succeeded)
        }
        guard let external, let spill = external.inFlight.removeValue(forKey: completion.ticket) else { return }
        // `spill_failures` counts objects lost: a failed write of one kept or deleted meanwhile costs
        // nothing (the sink has logged the failure either way).
        switch spill.fate {
        case .removed:
            external.heldBytes -= spill.size
            if let block = spill.block { allocator.free(block) }
        case .abandoned:
            external.ticketOf[spill.id] = nil
            if completion.succeeded { external.sink.discard(spill.id) }
        case .spilling:
            external.ticketOf[spill.id] = nil
            external.leavingBytes -= spill.size
            guard let slot = objects.slot(of: spill.id) else { preconditionFailure("a spilling object left the table unseen") }
            guard objects[slot].referenceCount == 0 else {
                // Backstop: a get took it without abandoning the spill. Its block is being read, so it
                // stays, as if abandoned (evictable again once released).
                if completion.succeeded { external.sink.discard(spill.id) }
                return
            }
            guard completion.succeeded else {
                // The documented rule: dropped as eviction without a sink would (subscribers hear it).
                external.spillFailures += 1
                removeObject(at: slot, .evicted)
                return
            }
            external.objects[spill.id] = spill.object
            external.bytes += spill.size
            objects.remove(slot)
            if let block = spill.block { allocator.free(block) }
            if cluster != nil { clusterObjectLeft(spill.id, unsealed: false) }  // StoreEngine+Cluster.swift
            observer?.spilled(spill.id, bytes: spill.size)
        }
    }

    /// Whether the object's spill is under way (it is then out of the LRU on purpose).
    func isLeaving(_ id: ObjectID) -> Bool {
        guard let external, let ticket = external.ticketOf[id] else { return false }
        return external.inFlight[ticket]?.fate == .spilling
    }

    /// Bytes on their way out (will free when their spills finish) and bytes held by removed objects'
    /// spills: both still allocated.
    var spillingBytes: (leaving: Int, held: Int) {
        guard let external else { return (0, 0) }
        return (external.leavingBytes, external.heldBytes)
    }

    /// Bytes of blocks restores are filling: allocated, not yet in the table.
    var restoringBytes: Int { external?.restoringBytes ?? 0 }

    /// Spills and restores under way (restores too: the sink reports both).
    var sinkBusy: Bool {
        guard let external else { return false }
        return !external.inFlight.isEmpty || !external.restoring.isEmpty
    }
}
