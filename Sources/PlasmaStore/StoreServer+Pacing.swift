import PlasmaEngine
import PlasmaWire

/// Keeps every loop pass short, so that one client's big requests can't hold up the others' small ones
/// (issue 13: a well-behaved client's get p99 while hostile connections attack).
///
/// Work is counted in ids looked up (a list counts every object). Once the ready descriptors of a pass
/// have done `passWork` units, a connection with more frames buffered is paused after its request: its
/// frames stay buffered (charged as inbound bytes), its socket isn't read, and it is resumed after a
/// later pass's ready descriptors, oldest first, with a `passWork` of its own (so that new requests
/// can't starve paused ones, nor the reverse). Once a pass has done its work, a connection whose last
/// request was heavy (or that has sent none yet) waits before its frames too; a light client with one
/// request at a time never waits for the pass's work, so it isn't queued behind heavy connections.
/// A get of many ids is looked up by the
/// engine a slice per pass (StoreEngine+GetScan.swift); its connection is paused until that is done, so
/// that its later requests are still executed, and answered, after it.
struct PassPacing {
    /// Work before connections are paused, twice a pass (ready descriptors, then paused connections):
    /// about a millisecond each on a loaded 2-core machine.
    static let passWork = 1_024
    /// Connections whose buffered frames wait for a later pass, oldest first.
    var paused: [Connection] = []
    /// Work done in this phase of the pass so far.
    var workDone = 0
}

extension StoreServer {
    /// How much work `request` is, in ids looked up.
    func work(of request: Request) -> Int {
        let (units, kind): (Int, StaticString) = switch request {
        case .get(let ids, _): (max(1, ids.count), "get")
        case .release(let ids): (max(1, ids.count), "release")
        case .delete(let ids): (max(1, ids.count), "delete")
        case .createAndSealBatch(let objects): (max(1, objects.count), "batch")
        // A big list is built in slices (StoreServer+Lists.swift): the request itself is a pass's worth.
        case .list, .listWithOrigins: (engine.canWalkInSlices ? min(max(1, engine.objectCount), PassPacing.passWork) : max(1, engine.objectCount), "list")
        default: (1, "request")
        }
        passMeter.work.request(units, kind: kind)
        return units
    }

    func work(of request: ArrowRequest) -> Int {
        let (units, kind): (Int, StaticString) = switch request {
        case .get(let ids, _): (max(1, ids.count), "Arrow get")
        case .delete(let ids): (max(1, ids.count), "Arrow delete")
        case .refreshLRU(let ids): (max(1, ids.count), "Arrow refresh")
        case .createAndSealBatch(let ids, _, _, _, _): (max(1, ids.count), "Arrow batch")
        case .list: (max(1, engine.objectCount), "Arrow list")
        default: (1, "Arrow request")
        }
        passMeter.work.request(units, kind: kind)
        return units
    }

    /// Called after each request a connection's frames ran (`more`: frames follow it in the buffer):
    /// true when the connection must stop here (paused) because its get is being looked up in slices,
    /// or this pass has done its share of work and more of its frames wait. A client with one request
    /// at a time (a round trip each) is never paused for the pass's work: paused, it would wait behind
    /// every heavy connection in the queue for its next request.
    func pausesAfter(_ work: Int, on connection: Connection, more: Bool) -> Bool {
        pacing.workDone += work
        connection.lastRequestWasHeavy = work >= PassPacing.passWork
        let mustPause = isWaitingForSlicedWork(connection) || (more && pacing.workDone >= PassPacing.passWork)
        guard mustPause else { return false }
        pause(connection)
        return true
    }

    /// Before any frame of a readable connection: paused ones wait their turn, and once a pass has done
    /// its share a connection whose last request was heavy waits too; light ones go.
    func pausesBeforeFrames(on connection: Connection) -> Bool {
        if connection.framesPaused { return true }
        guard pacing.workDone >= PassPacing.passWork, connection.lastRequestWasHeavy else { return false }
        pause(connection)
        return true
    }

    private func pause(_ connection: Connection) {
        guard !connection.framesPaused else { return }
        connection.framesPaused = true
        pacing.paused.append(connection)
    }

    /// A get of the connection is being looked up, or its list built, in slices: its later requests wait.
    func isWaitingForSlicedWork(_ connection: Connection) -> Bool {
        connection.listBuild != nil || engine.isScanningGet(for: connection.client)
    }

    /// Whether the loop must poll rather than sleep: sliced gets, lists or paused connections wait.
    var hasDeferredWork: Bool { engine.hasSlicedWork || hasListBuilds || !pacing.paused.isEmpty }

    /// Once per pass, after the ready descriptors: a slice of the engine's sliced work (gets being
    /// looked up), then the paused connections' buffered frames while this phase has work to spare.
    func advanceDeferredWork() {
        if engine.hasSlicedWork {
            engine.advanceSlicedWork()
            passMeter.work.slicedWork = true
        }
        if hasListBuilds { advanceListBuilds() }  // StoreServer+Lists.swift
        pacing.workDone = 0
        if !pacing.paused.isEmpty {
            let waiting = pacing.paused
            pacing.paused = []
            for connection in waiting where !connection.isClosed {
                if isWaitingForSlicedWork(connection) || pacing.workDone >= PassPacing.passWork {
                    pacing.paused.append(connection)  // still paused: next pass
                    continue
                }
                connection.framesPaused = false
                passMeter.work.resumed += 1
                resumeFrames(connection)  // may pause it again
            }
        }
        pacing.workDone = 0
    }
}
