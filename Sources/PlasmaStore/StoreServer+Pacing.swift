import PlasmaEngine
import PlasmaPosix
import PlasmaWire

/// Keeps every loop pass short, so that one client's big requests can't hold up the others' small ones
/// (issue 13: a well-behaved client's get p99 while hostile connections attack).
///
/// One budget per pass, `passWork` units of about a microsecond of the loop thread each (perf on the
/// 2-core CI machine: an id looked up ~1.3 µs, an object created and sealed ~2.3 µs, an object listed
/// ~0.25 µs), shared by everything the pass does: the requests of the ready descriptors, then the
/// deferred work (StoreServer+DeferredWork.swift: slices of big gets and lists, paused connections).
/// Once a pass has spent it, a connection with more frames buffered is paused after its request: its
/// frames stay buffered (charged as inbound bytes), its socket isn't read, and it is resumed in a
/// later pass, oldest first. A connection whose last request was heavy (or that has sent none yet)
/// waits before its frames once the budget is spent, or while other connections are paused (it queues
/// behind them, so that a pass runs one heavy request, not one from the ready descriptors and one
/// from the queue); a light client with one request at a time never waits, so it isn't queued behind
/// heavy connections. A get of many ids is looked up by the engine a slice per pass
/// (StoreEngine+GetScan.swift); its connection is paused until that is done, so that its later
/// requests are still executed, and answered, after it.
struct PassPacing {
    /// Work units per pass: about a millisecond on a loaded 2-core machine.
    static let passWork = 1_024
    /// The same bound in time, for work whose cost per unit varies too much to count (sliced gets,
    /// partial frames read).
    static let passNanoseconds: UInt64 = 1_000_000
    /// Units per object created (a batch) or listed, from the costs above.
    static let unitsPerCreatedObject = 2
    static let listedObjectsPerUnit = 4
    /// Bytes of a partial frame read per unit (StoreServer.readBytesWork), and read at most at a time.
    /// Such bytes go into a buffer's pages touched for the first time, whose faults cost far more than
    /// the copy, and vary: under `plasma-bench hostile` on the 2-core VM, reading a pass's 1 MiB took
    /// 15–28 ms of the loop (perf: page faults under `memmove`), ~16 µs per KiB where 1 was measured
    /// before. So they are read 64 KiB at a time, and the clock ends a pass's reads of them too
    /// (`passNanoseconds`, StoreServer.readAvailable).
    static let bytesPerReadUnit = 1_024
    static let partialFrameReadBytes = 64 << 10
    /// Connections whose buffered frames wait for a later pass, oldest first.
    var paused: [Connection] = []
    /// Units spent in this pass so far.
    var workDone = 0
    /// This pass has read from a connection that may bring a big frame (the clock may end such reads
    /// from then on: StoreServer.readAvailable).
    var readBigFrame = false
    /// A connection that may bring a big frame was not read this pass for want of budget; the next pass
    /// then owes one such read whatever the budget (`bigFrameReadOwed`), so that light clients, read
    /// first in every pass (`StoreServer.handle`), can't starve it.
    var bigFrameWentWithout = false
    var bigFrameReadOwed = false
    /// Set while the deferred work runs: paused connections resumed then don't queue behind each other.
    var inDeferredPhase = false
    /// The paused connection given a request this pass although the budget was spent (its turn).
    var granted: Connection?
    /// Paused connections could have run in the last pass but got no turn: this pass one of them runs
    /// a request whatever the budget, so that busy ready descriptors can't starve them.
    var pausedWentWithout = false
    /// Which kind of deferred work goes first this pass (StoreServer+DeferredWork.swift).
    var deferredTurn = 0
}

extension StoreServer {
    /// How much work `request` is, in work units.
    func work(of request: Request) -> Int {
        let (units, kind): (Int, StaticString) = switch request {
        // A get looked up in slices (counted as they are done) costs here only its arrival: the ids
        // decoded, its results allocated, ~2 ms for 65,536 ids (perf, issue 13).
        case .get(let ids, _): (ids.count > engine.configuration.getSliceIDs ? ids.count / 32 : max(1, ids.count), "get")
        case .release(let ids): (max(1, ids.count), "release")
        case .delete(let ids): (max(1, ids.count), "delete")
        case .createAndSealBatch(let objects): (max(1, objects.count * PassPacing.unitsPerCreatedObject), "batch")
        // Counted where it is built: in slices, or at once (StoreServer+Lists.swift).
        case .list, .listWithOrigins: (1, "list")
        default: (1, "request")
        }
        passMeter.work.request(units, kind: kind)
        return units
    }

    func work(of request: ArrowRequest) -> Int {
        let (units, kind): (Int, StaticString) = switch request {
        case .get(let ids, _): (ids.count > engine.configuration.getSliceIDs ? ids.count / 32 : max(1, ids.count), "Arrow get")
        case .delete(let ids): (max(1, ids.count), "Arrow delete")
        case .refreshLRU(let ids): (max(1, ids.count), "Arrow refresh")
        case .createAndSealBatch(let ids, _, _, _, _): (max(1, ids.count * PassPacing.unitsPerCreatedObject), "Arrow batch")
        case .list: (max(1, engine.objectCount), "Arrow list")
        default: (1, "Arrow request")
        }
        passMeter.work.request(units, kind: kind)
        return units
    }

    /// Bytes read into a connection's inbound buffer (a frame that didn't arrive whole) are work: copied,
    /// into pages touched for the first time (eight connections sending 64 MiB frames: 4–6 ms a pass
    /// that counted no work; 200 hostile connections: up to 28 ms). A unit per `bytesPerReadUnit`.
    func readBytesWork(_ bytes: Int) {
        let units = (bytes + PassPacing.bytesPerReadUnit - 1) / PassPacing.bytesPerReadUnit
        pacing.workDone += units
        passMeter.work.readUnits += units
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

    /// Before any frame of a readable connection: paused ones wait their turn, and a connection whose
    /// last request was heavy waits once the pass has spent its budget, or behind paused connections;
    /// light ones go.
    func pausesBeforeFrames(on connection: Connection) -> Bool {
        if connection.framesPaused { return true }
        guard connection.lastRequestWasHeavy, connection !== pacing.granted else { return false }
        let queued = !pacing.inDeferredPhase && !pacing.paused.isEmpty
        guard pacing.workDone >= PassPacing.passWork || queued else { return false }
        pause(connection)
        return true
    }

    func pause(_ connection: Connection) {
        guard !connection.framesPaused else { return }
        connection.framesPaused = true
        pacing.paused.append(connection)
    }

    /// A get of the connection is being looked up, or its list built, in slices: its later requests wait.
    func isWaitingForSlicedWork(_ connection: Connection) -> Bool {
        connection.listBuild != nil || engine.isScanningGet(for: connection.client)
    }

    /// The current pass has run `PassPacing.passNanoseconds`: work the clock bounds stops for this pass.
    var passHasRunItsTime: Bool { MonotonicClock.nanoseconds() &- loop.passStartedAt >= PassPacing.passNanoseconds }

    /// Whether the loop must poll rather than sleep: sliced gets, lists or paused connections wait.
    var hasDeferredWork: Bool { engine.hasSlicedWork || hasListBuilds || !arrowSnapshotWalks.isEmpty || !pacing.paused.isEmpty }
}
