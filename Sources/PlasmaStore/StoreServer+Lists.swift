import DequeModule
import PlasmaEngine
import PlasmaWire

/// Native `list`s of big tables built a slice at a time (ListBuild.swift), in turn with each other, a
/// bounded number of objects per loop pass. The listing connection is paused meanwhile (its later
/// requests wait, so replies keep their order); its build's memory is charged to its client-state share
/// as reply bytes.
struct ListBuilds {
    /// Lists built at once, at most: each holds up to 24 bytes per object and its reply frame, so two
    /// hundred connections listing a million objects each must not all hold theirs at the same time.
    static let maxActive = 4
    /// Connections whose list is being built, in turn.
    var active = Deque<Connection>()
    /// Connections whose list waits for its turn to be built (nothing allocated yet), oldest first.
    var waiting = Deque<Connection>()
}

extension StoreServer {
    /// The native adapter's `list`: true when it is built here in slices (a table of more than a slice
    /// without a spill store), false to have the adapter answer at once.
    func startListBuild(client: ClientID, requestID: UInt64, origins: Bool = false) -> Bool {
        guard let connection = connections[client], !connection.isClosed else { return false }
        guard engine.canWalkInSlices, engine.tableSlotCount > ListBuild.sliceObjects, connection.closeReason == nil,
              connection.listBuild == nil
        else {
            // Built at once by the adapter: the pass's work (StoreServer+Pacing.swift) counts every object.
            pacing.workDone += engine.objectCount
            passMeter.work.deferredUnits += engine.objectCount
            return false
        }
        // The check `enqueue` makes when a reply is built at once, made now rather than after the work.
        if doomIfNotReadingReplies(connection) { return true }
        connection.listBuild = ListBuild(requestID: requestID, endSlot: engine.tableSlotCount, origins: origins)
        listBuilds.waiting.append(connection)
        return true
    }

    /// Its client hung up (EPOLLHUP: both directions gone, so the reply can't be delivered) while its list
    /// was being built or waited for a turn: the build is dropped rather than finished for nobody in one of
    /// the four places. The connection resumes, runs what it sent after the list, and meets its end of file.
    func abandonListBuild(of connection: Connection) {
        guard connection.listBuild != nil else { return }
        connection.listBuild = nil  // resumed by the pacing
        // Out of the turns too: a later list of the same connection must not find a second place there.
        listBuilds.waiting.removeAll { $0 === connection }
        listBuilds.active.removeAll { $0 === connection }
        connection.outbound.buildingBytes = 0
        _ = budget.force(.outboundReplies, to: connection.outbound.heldBytes, for: connection.account)
        logger.debug("dropped the list being built for \(connection.peerDescription): it hung up")
    }

    var hasListBuilds: Bool { !listBuilds.active.isEmpty || !listBuilds.waiting.isEmpty }

    /// Once per pass: about `objects` objects of the lists being built (StoreServer+DeferredWork.swift),
    /// a slice each in turn; a finished list is queued as its connection's reply. Returns the objects done.
    func advanceListBuilds(objects: Int) -> Int {
        // A closed connection must not stay alive here, buffers and all, until its turn.
        if listBuilds.waiting.contains(where: \.isClosed) { listBuilds.waiting.removeAll(where: \.isClosed) }
        while listBuilds.active.count < ListBuilds.maxActive, let next = listBuilds.waiting.popFirst() {
            listBuilds.active.append(next)
        }
        var remaining = max(1, objects)
        var turns = listBuilds.active.count  // each active build at most once a pass
        while remaining > 0, turns > 0, let connection = listBuilds.active.popFirst() {
            turns -= 1
            guard !connection.isClosed, connection.closeReason == nil, let build = connection.listBuild else { continue }
            let done = build.advance(limit: min(remaining, ListBuild.sliceObjects), engine: engine)
            remaining -= done
            passMeter.work.listed += done
            if build.isDone {
                connection.listBuild = nil
                connection.outbound.buildingBytes = 0
                enqueueEncoded(build.frame.buffer, on: connection)
                continue
            }
            connection.outbound.buildingBytes = build.heldBytes
            // A build is a reply under way: charged whatever the share says, like a reply; a client that
            // goes over its share with earlier replies unread is not reading them, and goes.
            guard chargeQueuedReply(on: connection, queuedBefore: connection.outbound.pendingBytes,
                                    asked: build.heldBytes, while: " with a list being built")
            else { continue }
            listBuilds.active.append(connection)
        }
        return max(1, objects) - max(0, remaining)
    }

    /// Queues a reply frame encoded elsewhere, with the checks `enqueue` makes; never copied behind
    /// unread replies (OutboundBuffer.append(frame:)).
    private func enqueueEncoded(_ frame: [UInt8], on connection: Connection) {
        guard !doomIfNotReadingReplies(connection) else { return }
        let queuedBefore = connection.outbound.pendingBytes
        connection.outbound.append(frame: frame)
        guard chargeQueuedReply(on: connection, queuedBefore: queuedBefore, asked: frame.count) else { return }
        schedule(connection)
    }
}
