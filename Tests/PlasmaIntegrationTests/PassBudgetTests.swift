import Foundation
import PlasmaArrowClient
import PlasmaClient
import PlasmaCore
import PlasmaTestSupport
import PlasmaWire
import Testing

extension IntegrationTests {
    /// One work budget per loop pass, shared by the requests of the ready descriptors and the deferred
    /// work (StoreServer+Pacing.swift, StoreServer+DeferredWork.swift): with a big get looked up in
    /// slices, lists built in slices and a connection pipelining batches all at once, no pass does more
    /// than its budget, one request and the sliced kinds' least turns (a second request, owed to paused
    /// connections that went without a turn, needs a heavy request from the ready descriptors while
    /// others are paused, which this workload never sends: heavy connections queue behind paused ones). Counted in work units
    /// (`loop_pass_most_work_units`), which don't depend on the machine's load as durations do.
    @Suite struct PassBudgetTests {
        /// The pass budget (1,024) + the heaviest request here (the 65,536-id get's arrival, 65,536 / 32;
        /// a batch of 1,000 creates is 2,000) + the least turns of the sliced kinds (128 ids, 256 objects
        /// listed = 64 units). Before the shared budget a pass ran two batches from the ready descriptors,
        /// two more from the paused connections, a get slice and a list slice: ~9,000.
        static let mostUnitsInAPass = 1_024 + 2_048 + 128 + 64

        @Test func noPassDoesMoreThanItsBudgetOneRequestAndTheLeastSlices() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            var random = SeededRandom(seed: 13_0101)
            // 20,000 objects: a list of them is built in ~40 slices.
            for _ in 0..<20 {
                _ = try client.createAndSeal(batch: (0..<1_000).map { _ in InlineObject(id: .random(using: &random), data: [3]) })
            }
            let lister = try RawConnection(path: store.socketPath)
            let getter = try RawConnection(path: store.socketPath)
            let creator = try RawConnection(path: store.socketPath)
            let missing = (0..<65_536).map { _ in ObjectID.random(using: &random) }
            let batches = (0..<8).map { _ in
                Request.createAndSealBatch((0..<1_000).map { _ in InlineObject(id: .random(using: &random), data: []) })
            }
            try lister.sendAll([.list, .list])
            try getter.sendAll([.get(ids: missing, timeoutMilliseconds: -1), .contains(id: missing[0])])
            try creator.sendAll(batches)
            // Every reply: the lists built, the get looked up (its contains is answered after it), the batches run.
            for _ in 0..<2 {
                guard case .reply(.list(let infos)) = try lister.readFrame() else { throw Failure("a list reply") }
                #expect(infos.count >= 20_000)
            }
            guard case .reply(let contains) = try getter.readFrame() else { throw Failure("the contains' reply") }
            #expect(contains == .contains(false))
            for _ in batches {
                guard case .reply(.statuses(let statuses)) = try creator.readFrame() else { throw Failure("a batch's reply") }
                #expect(statuses == [PlasmaStatus](repeating: .ok, count: 1_000))
            }
            let most = try client.statistics().loopPassMostWorkUnits
            #expect(most > 0, "the store counts its passes' work")
            #expect(most <= Self.mostUnitsInAPass, "a loop pass did \(most) units of work")
        }

        /// Bytes of frames that arrive in pieces are work (a unit per KiB): once a pass has spent its
        /// budget, connections in the middle of a big frame are read in a later pass. Before, each
        /// was read 256 KiB a pass whatever the pass had done, and the reads counted no work: eight
        /// connections sending 64 MiB frames made passes of 4–6 ms of CPU that did "nothing".
        @Test func bigFramesArrivingInPiecesAreReadWithinThePassBudget() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let (senders, frameBytes, sentBytes) = (8, 16 << 20, 12 << 20)
            let connections = try (0..<senders).map { _ in try RawConnection(path: store.socketPath) }
            let frames = (0..<senders).map { _ in ClientStateBudgetTests.bigCreate(frameBytes) }
            // Blocking writes from a thread each, so that every connection has bytes waiting at once.
            let group = DispatchGroup()
            for (connection, frame) in zip(connections, frames) {
                group.enter()
                let socket = connection.socket
                Thread {
                    try? frame[..<sentBytes].withUnsafeBytes { try socket.writeAll($0) }
                    group.leave()
                }.start()
            }
            #expect(try eventually { try client.statistics().clientStateInbound == Int64(senders * sentBytes) })
            group.wait()
            let most = try client.statistics().loopPassMostWorkUnits
            #expect(most >= 256, "a 256 KiB read of a partial frame counts 256 units")
            // The budget, one more read (256 KiB) and the statistics requests.
            #expect(most <= 1_024 + 256 + 8, "a loop pass did \(most) units of work")
            withExtendedLifetime(connections) {}
        }

        /// Connections that may bring a big frame (a new one among them) are read after the light clients
        /// in each pass (StoreServer.handle). Light clients whose gets spend the whole pass budget in
        /// every pass must not starve them: a pass after one in which such a connection went without
        /// owes it a read (`PassPacing.bigFrameReadOwed`). Three clients loop on gets of 1,000 ids (1,000
        /// units each: light, and any two spend a pass's 1,024) while a new client connects and asks.
        /// A liveness check: three blocking clients don't spend every pass's budget (each has one
        /// request in flight), so this passes without the owed read too; it fails if the store stops
        /// serving new connections while light clients keep it busy.
        @Test(.timeLimit(.minutes(2))) func aNewConnectionIsServedWhileLightClientsSpendWholePassBudgets() throws {
            let store = try StoreProcess()
            var random = SeededRandom(seed: 13_0006)
            let ids = (0..<1_000).map { _ in ObjectID.random(using: &random) }
            let hammers = try (0..<3).map { _ in try store.connect() }
            let progress = HammerProgress()
            for hammer in hammers {
                Thread {
                    while !progress.stopped {
                        guard (try? hammer.get(ids, timeout: .no)) != nil else { return }
                        progress.count()
                    }
                }.start()
            }
            defer { progress.stop() }
            #expect(try eventually { progress.gets >= 300 }, "the light clients keep the store busy")
            let newcomer = try store.connect()
            #expect(try newcomer.contains(ids[0]) == false)
            let most = try newcomer.statistics().loopPassMostWorkUnits
            #expect(most >= 1_024, "light requests spent a whole pass's budget (\(most) units)")
            #expect(progress.gets > 0)
        }

        /// A connection doomed for not reading its replies runs none of the frames it sent after the
        /// request that doomed it: before, each list it had pipelined was built whole, at once (the
        /// sliced build refuses a doomed connection), for nobody: 20,000 objects in one pass.
        @Test func aConnectionDoomedForUnreadRepliesRunsNoMoreOfItsFrames() throws {
            // --client-buffer 64K: a client with more than 512 KiB of replies unread is disconnected.
            let store = try StoreProcess(arguments: ["--client-buffer", "64K"])
            let client = try store.connect()
            var random = SeededRandom(seed: 13_0102)
            for _ in 0..<20 {
                _ = try client.createAndSeal(batch: (0..<1_000).map { _ in InlineObject(id: .random(using: &random), data: [4]) })
            }
            // Each list reply is ~1.5 MB: the second list finds the first unread and dooms the connection.
            let hoarder = try RawConnection(path: store.socketPath)
            try hoarder.sendAll([Request](repeating: .list, count: 30))
            #expect(try eventually { try client.statistics().clients == 1 })
            let most = try client.statistics().loopPassMostWorkUnits
            #expect(most <= Self.mostUnitsInAPass, "a loop pass did \(most) units of work")
        }

        /// An Arrow subscribe with 20,000 sealed objects: the snapshot of them is walked a slice a pass
        /// (StoreServer+ArrowSnapshot.swift). Taken at once it was 20,000 objects in one pass (5,000
        /// units; 9.6 ms under `plasma-bench hostile`). Seals and deletions made while it may be walked
        /// come after it, nothing twice: an object deleted before the walk reached it may go unannounced
        /// as sealed, but is never announced sealed after its deletion.
        @Test func anArrowSubscribeSnapshotIsWalkedWithinThePassBudget() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            var random = SeededRandom(seed: 13_0103)
            var existing: [ObjectID] = []
            for _ in 0..<20 {
                let batch = (0..<1_000).map { _ in InlineObject(id: .random(using: &random), data: [5]) }
                _ = try client.createAndSeal(batch: batch)
                existing += batch.map(\.id)
            }
            let arrow = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            let notifications = try arrow.subscribe()
            // Made at once behind the subscribe, on its connection: while the walk goes on, or after it.
            let fresh = (0..<50).map { _ in ObjectID.random(using: &random) }
            let deleted = (0..<50).map { existing[$0 * 397] }
            for (index, id) in fresh.enumerated() {
                #expect(try arrow.call(.createAndSeal(id: id, evictIfFull: true, data: [6], metadata: [], digest: [1, 2, 3, 4, 5, 6, 7, 8]))
                    == .createAndSeal(error: .ok))
                _ = try arrow.call(.delete(ids: [deleted[index]]))
            }
            // The last event made is the last deletion: everything else comes before it.
            var heard: [ArrowObjectInfo] = []
            while heard.last != .deleted(id: deleted[deleted.count - 1]), let next = try ArrowClient.nextNotification(notifications) {
                heard += next.objects
            }
            let seals = heard.filter { !$0.isDeletion }.map(\.objectID)
            #expect(seals.count == Set(seals).count, "no object announced sealed twice")
            let deletedSet = Set(deleted)
            #expect(Set(seals).isSuperset(of: Set(existing).subtracting(deletedSet)), "every object sealed at the subscribe and kept is announced")
            #expect(Set(seals).isSuperset(of: fresh), "every object sealed since is announced")
            #expect(heard.filter(\.isDeletion).map(\.objectID) == deleted, "the deletions, in order")
            // The events since the subscribe in the order they were made, after every snapshot entry.
            let freshSet = Set(fresh)
            let events = heard.filter { $0.isDeletion || freshSet.contains($0.objectID) }.map { ($0.isDeletion ? "-" : "+") + "\($0.objectID)" }
            #expect(events == zip(fresh, deleted).flatMap { ["+\($0)", "-\($1)"] })
            let firstEvent = heard.firstIndex { $0.isDeletion || freshSet.contains($0.objectID) } ?? heard.count
            #expect(!heard[firstEvent...].contains { !$0.isDeletion && !freshSet.contains($0.objectID) }, "the snapshot comes first")
            let most = try client.statistics().loopPassMostWorkUnits
            #expect(most <= Self.mostUnitsInAPass, "a loop pass did \(most) units of work")
        }
    }
}

/// The light clients' gets so far, and whether they should stop (PassBudgetTests).
private final class HammerProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    private var stopRequested = false

    var gets: Int { lock.withLock { done } }
    var stopped: Bool { lock.withLock { stopRequested } }
    func count() { lock.withLock { done += 1 } }
    func stop() { lock.withLock { stopRequested = true } }
}
