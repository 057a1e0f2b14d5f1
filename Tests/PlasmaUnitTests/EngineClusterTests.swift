import PlasmaCore
import PlasmaEngine
import Testing

/// The engine's side of a cluster: local demand (which ids a waiting get wants and this store lacks)
/// and the hooks of the transfer (pins, pulled copies), driven alone (EngineFakes.swift).
@Suite struct EngineClusterTests {
    private func clustered(capacity: Int = 4096, configure: (inout StoreEngine.Configuration) -> Void = { _ in }) -> LoneEngine {
        let store = LoneEngine(capacity: capacity, configure: configure)
        store.engine.enableCluster()
        return store
    }

    private func changes(_ store: LoneEngine) -> (began: Set<ObjectID>, ended: Set<ObjectID>) {
        let (began, ended) = store.engine.takeDemandChanges()
        return (Set(began), Set(ended))
    }

    @Test func withoutAClusterNothingIsNoted() {
        let store = LoneEngine(capacity: 4096)
        let reader = store.engine.connect()
        #expect(store.engine.get([testID(1)], timeoutMilliseconds: -1, client: reader, ticket: 1) == .waiting)
        #expect(!store.engine.hasDemandChanges)
        #expect(store.engine.takeDemandChanges().began.isEmpty)
        #expect(store.engine.statistics.clients == 1)
    }

    @Test func aPollStaysLocalAndAWaitingGetBeginsDemand() {
        let store = clustered(configure: { $0.getSliceIDs = 2 })
        let reader = store.engine.connect()
        #expect(store.engine.get([testID(1)], timeoutMilliseconds: 0, client: reader, ticket: 1) == .answered([nil]))
        // A poll of more ids than a slice is scanned over passes: still a poll.
        #expect(store.engine.get((1...5).map(testID), timeoutMilliseconds: 0, client: reader, ticket: 2) == .waiting)
        while store.engine.hasSlicedWork { store.engine.advanceSlicedWork() }
        #expect(changes(store).began.isEmpty, "polls never gain demand")
        #expect(store.engine.get([testID(1), testID(2)], timeoutMilliseconds: 100, client: reader, ticket: 3) == .waiting)
        #expect(changes(store) == ([testID(1), testID(2)], []))
        #expect(store.engine.hasDemand(for: testID(1)))
        #expect(store.engine.statistics.clients == 1, "the cluster's internal holder is not a client")
    }

    @Test func demandEndsForEveryWayTheLastWaiterGoes() {
        let store = clustered()
        let reader = store.engine.connect()
        // Timed out.
        #expect(store.engine.get([testID(1)], timeoutMilliseconds: 10, client: reader, ticket: 1) == .waiting)
        #expect(changes(store).began == [testID(1)])
        store.clock.advance(milliseconds: 10)
        store.engine.fireDeadlines()
        #expect(changes(store) == ([], [testID(1)]))
        // Cancelled: only when the last of two waiters goes.
        let other = store.engine.connect()
        #expect(store.engine.get([testID(2)], timeoutMilliseconds: -1, client: reader, ticket: 2) == .waiting)
        #expect(store.engine.get([testID(2)], timeoutMilliseconds: -1, client: other, ticket: 2) == .waiting)
        #expect(changes(store).began == [testID(2)])
        store.engine.cancel(client: reader, ticket: 2)
        #expect(changes(store) == ([], []), "another get still waits")
        // Its client died.
        store.engine.disconnect(other)
        #expect(changes(store) == ([], [testID(2)]))
        // Answered: the id created here ends the demand at once, the seal answers the get.
        let writer = store.engine.connect()
        #expect(store.engine.get([testID(3)], timeoutMilliseconds: -1, client: reader, ticket: 3) == .waiting)
        #expect(changes(store).began == [testID(3)])
        #expect(store.engine.create(testID(3), dataSize: 8, metadataSize: 0, timeoutMilliseconds: 0, client: writer, ticket: 1)
                == .created(ObjectLocation(offset: 0, dataSize: 8, metadataSize: 0)))
        #expect(changes(store) == ([], [testID(3)]), "being created here: not wanted from elsewhere")
        // Aborted while still waited for: wanted again.
        #expect((try? store.engine.abort(testID(3), client: writer).get()) != nil)
        #expect(changes(store) == ([testID(3)], []))
        #expect(store.put(testID(3), size: 8, by: writer))
        #expect(changes(store) == ([], [testID(3)]))
        _ = store.observer.take()
        // Begun and ended between two takes: nothing to tell.
        #expect(store.engine.get([testID(4)], timeoutMilliseconds: -1, client: reader, ticket: 4) == .waiting)
        store.engine.cancel(client: reader, ticket: 4)
        #expect(changes(store) == ([], []))
        #expect(!store.engine.hasDemandChanges)
        #expect(store.engine.checkInvariants())
    }

    @Test func aSpilledIdIsRestorableNotWanted() {
        let sink = RecordingSpillSink()
        let store = LoneEngine(capacity: 1024, spillSink: sink)
        store.engine.enableCluster()
        let client = store.engine.connect()
        #expect(store.put(testID(1), size: 512, by: client))
        #expect(store.engine.evict(atLeast: 1).objects == 1)
        #expect(store.engine.get([testID(1)], timeoutMilliseconds: -1, client: client, ticket: 1) != .failed(EngineError(.invalidRequest)))
        #expect(changes(store).began.isEmpty)
    }

    @Test func pinsHoldAnObjectAgainstEvictionAndDeleteUntilUnpinned() {
        let store = clustered(capacity: 1024)
        let client = store.engine.connect()
        let baseline = store.engine.statistics
        #expect(store.put(testID(1), size: 512, by: client))
        #expect(store.engine.pin(testID(2)) == nil, "absent")
        let location = store.engine.pin(testID(1))
        #expect(location?.dataSize == 512)
        #expect(store.engine.pin(testID(1)) == location, "pinned twice")
        #expect(store.engine.pinnedObjects == 2)
        #expect(store.engine.evict(atLeast: 1024).objects == 0, "pinned: not evictable")
        #expect(store.engine.delete(testID(1)) == .deferredUntilReleased)
        #expect(store.engine.unpin(testID(1)))
        #expect(store.engine.contains(testID(1)))
        #expect(store.engine.unpin(testID(1)))
        #expect(!store.engine.unpin(testID(1)), "none left")
        #expect(!store.engine.contains(testID(1)), "the delete happened at the last unpin")
        #expect(store.engine.pinnedObjects == 0)
        #expect(store.engine.statistics.arenaBytesAllocated == baseline.arenaBytesAllocated)
        #expect(store.engine.checkInvariants())
    }

    @Test func aReservedCopyIsAbortedOrSealedWithItsOrigin() {
        let store = clustered(capacity: 1024)
        let reader = store.engine.connect()
        let writer = store.engine.connect()
        let baseline = store.engine.statistics
        #expect(store.engine.get([testID(1)], timeoutMilliseconds: -1, client: reader, ticket: 1) == .waiting)
        #expect(changes(store).began == [testID(1)])
        #expect(store.put(testID(9), size: 100, by: writer))
        #expect(store.engine.reservePull(testID(9), dataSize: 1, metadataSize: 0).failureStatus == .objectExists)
        #expect(store.engine.reservePull(testID(1), dataSize: 2048, metadataSize: 0).failureStatus == .tooLarge)
        // Reserved, then given up: nothing left, and the waiting get wants it again.
        guard case .success(let first) = store.engine.reservePull(testID(1), dataSize: 600, metadataSize: 8) else {
            Issue.record("reserve failed"); return
        }
        #expect(first.dataSize == 600 && first.metadataSize == 8)
        #expect(changes(store).ended == [testID(1)])
        #expect(store.engine.get([testID(1)], timeoutMilliseconds: 0, client: writer, ticket: 2) == .answered([nil]), "unsealed: invisible")
        #expect(store.engine.abortPull(testID(1)))
        #expect(changes(store).began == [testID(1)])
        #expect(store.observer.take().allSatisfy { if case .get = $0 { false } else { true } }, "nobody answered")
        // Reserved again (evicting the unreferenced testID(9) for room), then sealed with its origin.
        guard case .success(let second) = store.engine.reservePull(testID(1), dataSize: 1000, metadataSize: 0) else {
            Issue.record("reserve failed"); return
        }
        #expect(!store.engine.contains(testID(9)), "evicted for room, as a create would")
        store.memory[second.offset] = 0x5A
        #expect(store.engine.sealPull(testID(1), origin: "node-a"))
        #expect(store.observer.take().contains(.get(reader, 1, .success([second]))), "the waiter woke through the seal")
        #expect(store.engine.origin(of: testID(1)) == "node-a")
        #expect(changes(store) == ([], [testID(1)]))
        #expect(store.engine.release(testID(1), client: reader) == .ok)
        #expect(store.engine.statistics.evictableObjects == 1, "an ordinary sealed object: evictable once unreferenced")
        #expect(store.engine.delete(testID(1)) == .deleted)
        #expect(store.engine.origin(of: testID(1)) == nil)
        #expect(store.engine.statistics.arenaBytesAllocated == baseline.arenaBytesAllocated)
        #expect(store.engine.statistics.bytesInUse == baseline.bytesInUse)
        #expect(store.engine.checkInvariants())
    }

    @Test func trackedIdsAreReportedWhenTheyLeaveAndWatchedOnesWhenSealed() {
        let store = clustered(capacity: 1024)
        let client = store.engine.connect()
        store.engine.watchSeal(of: testID(1), true)
        #expect(store.put(testID(2), size: 10, by: client))
        #expect(store.put(testID(1), size: 10, by: client))
        #expect(store.engine.takeWatchedSeals() == [testID(1)])
        #expect(store.engine.takeWatchedSeals().isEmpty)
        store.engine.trackLeaving(testID(1))
        #expect(store.engine.delete(testID(2)) == .deleted)
        #expect(store.engine.takeLeftArena().isEmpty, "untracked")
        #expect(store.engine.evict(atLeast: 1).objects == 1)
        #expect(store.engine.takeLeftArena() == [testID(1)])
    }
}
