import DequeModule
import PlasmaCore

/// An object whose bytes live in the external store: everything its record said except the location.
struct SpilledObject {
    let dataSize: Int
    let metadataSize: Int
    let digest: UInt64
    let createdAtWallNanoseconds: Int64
    let createdAtMonotonicNanoseconds: UInt64
    let sealDurationNanoseconds: Int64

    var totalSize: Int { dataSize + metadataSize }
}

/// The spill sink and what the engine has put there.
final class ExternalSpill {
    let sink: SpillSink
    var objects: [ObjectID: SpilledObject] = [:]
    var bytes = 0
    var restoredObjects = 0
    var restoredBytes = 0
    /// Objects dropped because the store couldn't keep them, and spilled objects lost because their
    /// bytes couldn't be read back (missing, damaged, not what was written); the sink says why.
    var spillFailures = 0
    var restoreFailures = 0
    /// Spills the sink is still writing, by ticket (StoreEngine+SpillInFlight.swift).
    var inFlight: [UInt64: SpillInFlight] = [:]
    /// The ticket of each object still in the table whose bytes the sink is reading.
    var ticketOf: [ObjectID: UInt64] = [:]
    /// Bytes of in-flight spills that will leave the arena when they finish (fate `.spilling`).
    var leavingBytes = 0
    /// Bytes of blocks whose object is gone but whose spill the sink is still reading (fate `.removed`):
    /// not in the table, still allocated.
    var heldBytes = 0
    var nextTicket: UInt64 = 1
    /// Restores the sink is still reading, by ticket; the object stays in `objects` until it ends.
    var restoring: [UInt64: RestoreInFlight] = [:]
    /// The ticket of each object being restored.
    var restoreTicketOf: [ObjectID: UInt64] = [:]
    /// Bytes of the blocks restores are filling: allocated, not in the table, not freeing.
    var restoringBytes = 0
    /// Spilled objects whose restore waits for room that spills under way will free, oldest first;
    /// each once (`waitingForRoom`), so that repeated gets can't grow it past the spilled objects.
    var restoresWaitingForRoom: Deque<ObjectID> = []
    var waitingForRoom: Set<ObjectID> = []

    init(sink: SpillSink) { self.sink = sink }

    func fill(_ statistics: inout StoreStatistics) {
        statistics.spilledObjects = Int64(objects.count)
        statistics.spilledBytes = Int64(bytes)
        statistics.restoredObjects = Int64(restoredObjects)
        statistics.restoredBytes = Int64(restoredBytes)
        statistics.spillFailures = Int64(spillFailures)
        statistics.restoreFailures = Int64(restoreFailures)
    }
}

/// Eviction to a spill sink (the server's `--external-store`): an evicted object's bytes move out of the
/// arena (asynchronously: StoreEngine+SpillInFlight.swift) and the object stays known. It is still
/// "contained", listed (sealed, no references), can't be created again, and a get brings it back
/// (evicting others if needed) before answering it. Moving out is silent (no deletion event); deleting
/// a spilled object is a deletion like any other.
extension StoreEngine {
    func isSpilled(_ id: ObjectID) -> Bool { external?.objects[id] != nil }

    /// Present in the arena or spilled: the id is taken.
    func isKnown(_ id: ObjectID) -> Bool { objects.slot(of: id) != nil || isSpilled(id) }

    /// Forgets a spilled object (delete); true when it was spilled. Subscribers hear of the deletion.
    func dropSpilled(_ id: ObjectID) -> Bool {
        guard let external, let object = external.objects.removeValue(forKey: id) else { return false }
        // Being restored: the block is freed when the read ends, and nothing comes back.
        if let ticket = external.restoreTicketOf.removeValue(forKey: id) { external.restoring[ticket]!.cancelled = true }
        external.bytes -= object.totalSize
        external.sink.discard(id)
        deletedObjects += 1
        publish(.deleted(id), about: id)
        if cluster != nil { demandMayBegin(id) }  // StoreEngine+Demand.swift
        return true
    }

    /// A get wants `ids`: spills of them under way are abandoned (the objects stay in memory) and spilled
    /// ones are read back, now for a get that won't wait, else in the background while it waits as for a
    /// seal.
    func spilledObjectsWanted(_ ids: [ObjectID], synchronously: Bool) {
        abandonSpills(of: ids)  // StoreEngine+SpillInFlight.swift
        restoreSpilled(ids, synchronously: synchronously)
        // Making room for those restores may have begun spilling a wanted object restored meanwhile
        // (restores end inside `findRoom`, the newest in the LRU): keep it, the get is about to take it.
        abandonSpills(of: ids)
    }

    /// Brings the spilled objects among `ids` back into the arena before a get looks for them. The
    /// requested objects already there are pinned meanwhile, so that making room for one can't push out
    /// another; pinning moves them to the newest end of the LRU, which a get would do anyway.
    /// `synchronously` (a get that won't wait): each is read now; when a restore of one is under way the
    /// loop first waits for everything the sink has under way (`collectSpills(waiting: true)`).
    /// Otherwise the reads are begun and the get waits for them as for a seal (`finishRestore`).
    /// An object that can't come back for want of room (everything else is referenced) stays spilled
    /// and the get sees it as not there yet; one whose bytes can't be read back is gone.
    func restoreSpilled(_ ids: [ObjectID], synchronously: Bool) {
        guard let external, !external.objects.isEmpty, ids.contains(where: { external.objects[$0] != nil }) else { return }
        if synchronously, ids.contains(where: { external.restoreTicketOf[$0] != nil }) { collectSpills(waiting: true) }
        var pinned: [Int32] = []
        func pin(_ slot: Int32) {
            if objects[slot].isEvictable { objects.unlinkEvictable(slot) }
            objects[slot].referenceCount += 1
            pinned.append(slot)
        }
        var seen = Set<ObjectID>()
        let unique = ids.filter { seen.insert($0).inserted }
        for id in unique {
            if let slot = objects.slot(of: id), objects[slot].state == .sealed { pin(slot) }
        }
        for id in unique where external.restoreTicketOf[id] == nil {
            guard let object = external.objects[id] else { continue }
            guard synchronously else {
                // Room that spills under way will free, or that releases and deletes may free: the read
                // begins then (the loop goes on; `beginWaitingRestores`).
                if beginRestore(id, object) != .begun { queueRestoreForRoom(id) }
                continue
            }
            guard let block = reserveSpace(object.totalSize) else { continue }
            let buffer = UnsafeMutableRawBufferPointer(
                start: block.map { memory.baseAddress! + $0.offset }, count: block == nil ? 0 : object.totalSize)
            guard external.sink.restore(id, into: buffer, dataSize: object.dataSize) else {
                restoreFailed(id, block: block)
                continue
            }
            let slot = insertRestored(id, object, block: block)
            answerWaiters(at: slot)  // gets already waiting for it, as a background restore does
            pin(slot)
        }
        for slot in pinned {
            objects[slot].referenceCount -= 1
            if objects[slot].referenceCount == 0, !objects[slot].deletePending { objects.linkEvictable(slot) }
        }
        guard !synchronously else { return }
        collectSpills(waiting: false)  // a sink that reads at once (the hashtable)
        // Making room for one id can restore another and then, on a fragmented arena, spill it again
        // (its write may even have ended in that collect): such an id is spilled with no read under way,
        // and the get would wait for it forever. Read it back when room frees.
        for id in unique where external.objects[id] != nil && external.restoreTicketOf[id] == nil {
            queueRestoreForRoom(id)
        }
    }

    /// Queues a spilled id that a waiting get wants for `beginWaitingRestores`, once.
    private func queueRestoreForRoom(_ id: ObjectID) {
        if external!.waitingForRoom.insert(id).inserted { external!.restoresWaitingForRoom.append(id) }
    }

    /// What `beginRestore` did.
    enum RestoreStart {
        case begun
        /// Spills under way will free room: try again when they end.
        case roomOnItsWay
        /// Everything else is referenced: only a release or delete can make room.
        case noRoom
    }

    /// Finds room for a spilled object and has the sink read it in, or says why there is none now: the
    /// room is still on its way out (spills under way), or everything else is referenced (a release or
    /// delete may free it). Either way the caller queues it for `beginWaitingRestores`.
    func beginRestore(_ id: ObjectID, _ object: SpilledObject) -> RestoreStart {
        let external = external!
        let block: ArenaBlock?
        switch findRoom(object.totalSize, canWait: true) {
        case .block(let found): block = found
        case .pending: return .roomOnItsWay
        case .none: return .noRoom
        }
        let buffer = UnsafeMutableRawBufferPointer(
            start: block.map { memory.baseAddress! + $0.offset }, count: block == nil ? 0 : object.totalSize)
        let ticket = external.nextTicket
        external.nextTicket += 1
        external.restoring[ticket] = RestoreInFlight(id: id, block: block, object: object)
        external.restoreTicketOf[id] = ticket
        external.restoringBytes += object.totalSize
        external.sink.beginRestore(id, into: buffer, dataSize: object.dataSize, ticket: ticket)
        return .begun
    }

    /// Begins the restores that waited for room, oldest first (called as space frees: spills ending,
    /// releases, deletes); drops those deleted, already under way, or no longer waited for. Stops where
    /// room is still on its way out (spills under way: the next `spillsFinished` comes back). One that
    /// can't fit at all goes behind the others, so that it can't hold up smaller ones; at most
    /// `restoreTriesPerCall` are tried, since this runs on every release.
    func beginWaitingRestores() {
        guard let external, !external.restoresWaitingForRoom.isEmpty else { return }
        var (tried, began) = (0, false)
        var unvisited = external.restoresWaitingForRoom.count  // each entry at most once per call
        loop: while unvisited > 0, tried < Self.restoreTriesPerCall, let id = external.restoresWaitingForRoom.popFirst() {
            unvisited -= 1
            guard let object = external.objects[id], external.restoreTicketOf[id] == nil, waitingGets.isWaited(for: id) else {
                external.waitingForRoom.remove(id)
                continue
            }
            tried += 1
            switch beginRestore(id, object) {
            case .begun:
                external.waitingForRoom.remove(id)
                began = true
            case .roomOnItsWay:
                external.restoresWaitingForRoom.prepend(id)
                break loop
            case .noRoom:
                external.restoresWaitingForRoom.append(id)
            }
        }
        // A sink that reads at once (the hashtable) has no signal to bring its reports back.
        if began { collectSpills(waiting: false) }
    }

    /// Restores waiting for room tried per call of `beginWaitingRestores`.
    static let restoreTriesPerCall = 16

    /// Unreadable (say, a spill file removed or damaged behind the store's back): the sink has dropped
    /// it and said why, so drop it from the books too; subscribers hear it was deleted.
    func restoreFailed(_ id: ObjectID, block: ArenaBlock?) {
        external!.restoreFailures += 1
        if let block { allocator.free(block) }
        _ = dropSpilled(id)
    }

    /// Puts a restored object back in the table, sealed and unreferenced (the caller links or pins it).
    func insertRestored(_ id: ObjectID, _ object: SpilledObject, block: ArenaBlock?) -> Int32 {
        let external = external!
        external.objects[id] = nil
        external.bytes -= object.totalSize
        external.restoredObjects += 1
        external.restoredBytes += object.totalSize
        var record = ObjectRecord(
            id: id, state: .sealed, block: block, dataSize: object.dataSize,
            metadataSize: object.metadataSize, creator: ClientID(rawValue: 0),
            createdAtWallNanoseconds: object.createdAtWallNanoseconds,
            createdAtMonotonicNanoseconds: object.createdAtMonotonicNanoseconds)
        record.sealDurationNanoseconds = object.sealDurationNanoseconds
        record.digest = object.digest
        let slot = objects.insert(record)
        observer?.restored(id, bytes: object.totalSize)
        return slot
    }

    /// Spilled objects as list rows: sealed, unreferenced.
    func spilledSnapshots() -> [ObjectSnapshot] {
        guard let external else { return [] }
        return external.objects.map { id, object in
            ObjectSnapshot(
                info: ObjectInfo(
                    id: id, dataSize: object.dataSize, metadataSize: object.metadataSize, referenceCount: 0, state: .sealed,
                    createdAtNanoseconds: object.createdAtWallNanoseconds,
                    sealDurationNanoseconds: object.sealDurationNanoseconds, deletePending: false),
                digest: object.digest, createdAtMonotonicNanoseconds: object.createdAtMonotonicNanoseconds, isSpilled: true)
        }
    }
}
