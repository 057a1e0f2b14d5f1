import PlasmaCore
@testable import PlasmaEngine
@testable import PlasmaStore
import PlasmaWire
import Testing

/// Delete, LRU eviction and creates that wait for space.
extension EngineTests {
    // MARK: Delete

    @Test func deleteOfReferencedObjectIsDeferredUntilTheLastReferenceIsReleased() {
        let harness = EngineHarness(capacity: 4096)
        let creator = harness.connect()
        let reader = harness.connect()
        let id = testID(1)
        harness.putHeld(id, size: 100, from: creator)
        #expect(harness.get([id], from: reader)?.status == .ok)

        #expect(harness.delete([id], from: reader) == .statuses([.deletionDeferred]))
        let pending = harness.info(id, from: reader)
        #expect(pending?.deletePending == true)
        #expect(harness.statistics.evictableObjects == 0)
        #expect(harness.create(id, data: 1, from: reader)?.status == .objectExists, "still there until released")
        #expect(harness.evict(bytes: 4096, from: reader) == .evicted(bytes: 0, objects: 0),
                "a delete-pending object is not evictable")

        #expect(harness.release([id], from: creator) == .statuses([.ok]))
        #expect(harness.contains(id, from: reader), "one reference is still held")
        #expect(harness.statistics.deletedObjects == 0)

        #expect(harness.release([id], from: reader) == .statuses([.ok]))
        #expect(harness.contains(id, from: reader) == false)
        #expect(harness.list(from: reader).isEmpty)
        #expect(harness.statistics.deletedObjects == 1)
        #expect(harness.statistics.bytesInUse == 0)
        #expect(harness.statistics.evictedObjects == 0, "a delete is not an eviction")
        #expect(harness.create(id, data: 1, from: reader)?.status == .ok, "the id is free again")
        harness.expectConsistent()
    }

    @Test func deleteOfUnreferencedObjectIsImmediateAndOfUnsealedOrMissingFails() {
        let harness = EngineHarness(capacity: 4096)
        let client = harness.connect()
        harness.put(testID(1), size: 100, from: client)
        #expect(harness.create(testID(2), data: 100, from: client)?.status == .ok)
        #expect(harness.delete([testID(1), testID(2), testID(3)], from: client)
                == .statuses([.ok, .objectNotSealed, .objectNotFound]))
        #expect(harness.contains(testID(1), from: client) == false)
        #expect(harness.info(testID(2), from: client)?.state == .created, "an unsealed object is untouched")
        #expect(harness.statistics.bytesInUse == 100)
        #expect(harness.statistics.deletedObjects == 1)
        harness.expectConsistent()
    }

    // MARK: LRU eviction

    @Test func createThatNeedsSpaceEvictsTheLeastRecentlyReleasedFirst() {
        let harness = EngineHarness(capacity: 4096)
        let client = harness.connect()
        let (a, b, c, d) = (testID(1), testID(2), testID(3), testID(4))
        for id in [a, b, c, d] { harness.put(id, size: 1024, from: client) }
        #expect(harness.statistics.evictableObjects == 4)

        // Touch a: get + release makes it the most recently released.
        #expect(harness.get([a], from: client)?.status == .ok)
        #expect(harness.release([a], from: client) == .statuses([.ok]))

        #expect(harness.create(testID(5), data: 1024, from: client)?.status == .ok)
        #expect(harness.contains(b, from: client) == false, "b is now the least recently released")
        #expect([a, c, d].allSatisfy { harness.contains($0, from: client) })
        #expect(harness.statistics.evictedObjects == 1)
        #expect(harness.statistics.evictedBytes == 1024)

        #expect(harness.create(testID(6), data: 2048, metadata: 0, from: client)?.status == .ok)
        #expect(harness.contains(c, from: client) == false)
        #expect(harness.contains(d, from: client) == false)
        #expect(harness.contains(a, from: client), "the touched object goes last")
        #expect(harness.statistics.evictedObjects == 3)
        harness.expectConsistent()
    }

    @Test func referencedObjectsAreNeverEvicted() {
        let harness = EngineHarness(capacity: 4096)
        let holder = harness.connect()
        let other = harness.connect()
        let (a, b, c, d) = (testID(1), testID(2), testID(3), testID(4))
        harness.putHeld(a, size: 1024, from: holder)  // oldest, but referenced
        harness.put(b, size: 1024, from: other)
        harness.put(c, size: 1024, from: other)
        // d: referenced by a reader that isn't its creator.
        harness.put(d, size: 1024, from: other)
        #expect(harness.get([d], from: holder)?.status == .ok)

        #expect(harness.create(testID(5), data: 2048, from: other)?.status == .ok)
        #expect(harness.contains(a, from: other))
        #expect(harness.contains(d, from: other))
        #expect(harness.contains(b, from: other) == false && harness.contains(c, from: other) == false)

        #expect(harness.create(testID(6), data: 1, from: other)?.status == .outOfMemory)
        #expect(harness.contains(a, from: other) && harness.contains(d, from: other))
        harness.expectConsistent()
    }

    @Test func hopelessCreateFailsOutOfMemoryAtOnceWithoutEvictingAnything() {
        let harness = EngineHarness(capacity: 4096)
        let holder = harness.connect()
        for seed in 1...3 as ClosedRange<UInt8> { harness.putHeld(testID(seed), size: 1024, from: holder) }
        harness.put(testID(4), size: 1024, from: holder)  // the only evictable object

        // 2048 bytes can't be found even by evicting testID(4): nothing may be evicted for nothing.
        #expect(harness.create(testID(9), data: 2048, from: holder)?.status == .outOfMemory)
        #expect(harness.createAndSeal(testID(9), data: [UInt8](repeating: 0, count: 2048), from: holder)?.status
                == .outOfMemory)
        #expect(harness.contains(testID(4), from: holder))
        #expect(harness.statistics.evictedObjects == 0)
        #expect(harness.statistics.pendingCreates == 0, "timeout 0 does not wait")

        // All referenced: even a small create fails immediately.
        #expect(harness.get([testID(4)], from: holder)?.status == .ok)
        #expect(harness.create(testID(9), data: 1, from: holder)?.status == .outOfMemory)
        #expect(harness.statistics.evictedObjects == 0)
        #expect(harness.list(from: holder).count == 4)
        harness.expectConsistent()
    }

    @Test func evictRequestFreesAtLeastTheBytesAskedInLRUOrder() {
        let harness = EngineHarness(capacity: 8192)
        let client = harness.connect()
        let ids = (1...5 as ClosedRange<UInt8>).map(testID)
        for id in ids { harness.put(id, size: 1000, from: client) }
        harness.putHeld(testID(9), size: 1000, from: client)
        // ids[0] becomes the most recently released.
        #expect(harness.get([ids[0]], from: client)?.status == .ok)
        #expect(harness.release([ids[0]], from: client) == .statuses([.ok]))

        #expect(harness.evict(bytes: 0, from: client) == .evicted(bytes: 0, objects: 0))
        #expect(harness.evict(bytes: 1500, from: client) == .evicted(bytes: 2000, objects: 2))
        #expect(!harness.contains(ids[1], from: client) && !harness.contains(ids[2], from: client))
        #expect(harness.contains(ids[3], from: client) && harness.contains(ids[0], from: client))
        #expect(harness.evict(bytes: 1000, from: client) == .evicted(bytes: 1000, objects: 1))
        #expect(!harness.contains(ids[3], from: client) && harness.contains(ids[4], from: client))

        #expect(harness.evict(bytes: Int.max, from: client) == .evicted(bytes: 2000, objects: 2))
        #expect(harness.contains(testID(9), from: client), "the referenced object survives")
        let statistics = harness.statistics
        #expect(statistics.evictedObjects == 5 && statistics.evictedBytes == 5000)
        #expect(statistics.bytesInUse == 1000 && statistics.evictableObjects == 0)
        harness.expectConsistent()
    }

    // MARK: Creates that wait for space

    @Test func waitingCreateIsAnsweredWhenAHolderReleasesAndATimedOneRunsOutOfMemory() {
        let harness = EngineHarness(capacity: 2048)
        let holder = harness.connect()
        let waiter = harness.connect()
        let other = harness.connect()
        let (x, y) = (testID(1), testID(2))
        harness.putHeld(x, size: 1024, from: holder)
        harness.putHeld(y, size: 1024, from: holder)

        let waitingID = harness.freshRequestID()
        #expect(harness.create(testID(3), data: 1000, metadata: 24, timeout: -1, from: waiter, requestID: waitingID) == nil)
        #expect(harness.statistics.pendingCreates == 1)
        #expect(harness.engine.nextDeadline == nil)
        #expect(harness.replies(to: waitingID, of: waiter).isEmpty)

        #expect(harness.release([y], from: holder) == .statuses([.ok]))
        let answers = harness.replies(to: waitingID, of: waiter)
        #expect(answers.count == 1)
        guard case .created(let offset)? = answers.first else {
            Issue.record("expected .created, got \(answers)")
            return
        }
        #expect(offset % 64 == 0)
        #expect(harness.contains(y, from: waiter) == false, "y was evicted to make room")
        #expect(harness.statistics.pendingCreates == 0)
        #expect(harness.info(testID(3), from: waiter)?.referenceCount == 1, "the waiter is the creator")
        #expect(harness.seal(testID(3), from: waiter) == .done)

        // Full again (x held by holder, testID(3) held by waiter): a create with a timeout expires.
        let start = harness.clock.monotonicNanoseconds()
        let timedID = harness.freshRequestID()
        #expect(harness.create(testID(4), data: 10, timeout: 50, from: other, requestID: timedID) == nil)
        #expect(harness.statistics.pendingCreates == 1)
        #expect(harness.engine.nextDeadline == start + 50_000_000)
        harness.clock.advance(milliseconds: 49)
        harness.engine.fireDeadlines()
        #expect(harness.replies(to: timedID, of: other).isEmpty)
        harness.clock.advance(milliseconds: 1)
        harness.engine.fireDeadlines()
        #expect(harness.replies(to: timedID, of: other).map(\.status) == [.outOfMemory])
        #expect(harness.statistics.pendingCreates == 0)
        #expect(harness.contains(testID(4), from: other) == false)

        // Space freed after the timeout goes to nobody: the expired create stays answered once.
        #expect(harness.release([x], from: holder) == .statuses([.ok]))
        #expect(harness.replies(to: timedID, of: other).count == 1)
        #expect(harness.info(testID(4), from: other) == nil)
        harness.expectConsistent()
    }

    @Test func waitingCreateAndSealIsAnsweredDoneWithTheBytesInPlace() {
        let harness = EngineHarness(capacity: 1024)
        let holder = harness.connect()
        let waiter = harness.connect()
        harness.putHeld(testID(1), size: 1024, from: holder)
        let requestID = harness.freshRequestID()
        #expect(harness.createAndSeal(testID(2), data: [5, 6, 7], metadata: [8], timeout: -1, from: waiter,
                                      requestID: requestID) == nil)
        #expect(harness.release([testID(1)], from: holder) == .statuses([.ok]))
        #expect(harness.replies(to: requestID, of: waiter) == [.done])
        guard case .objects(let found) = harness.get([testID(2)], from: waiter), case let location?? = found.first
        else {
            Issue.record("the waited-for object is not there")
            return
        }
        #expect(Array(harness.memory[location.offset..<location.offset + 4]) == [5, 6, 7, 8])
        harness.expectConsistent()
    }

    @Test func waitingCreatesAreServedOldestFirst() {
        let harness = EngineHarness(capacity: 2048)
        let holder = harness.connect()
        let first = harness.connect()
        let second = harness.connect()
        harness.putHeld(testID(1), size: 1024, from: holder)
        harness.putHeld(testID(2), size: 1024, from: holder)
        let firstID = harness.freshRequestID()
        let secondID = harness.freshRequestID()
        #expect(harness.create(testID(3), data: 1024, timeout: -1, from: first, requestID: firstID) == nil)
        #expect(harness.create(testID(4), data: 1024, timeout: -1, from: second, requestID: secondID) == nil)
        #expect(harness.statistics.pendingCreates == 2)

        #expect(harness.release([testID(1)], from: holder) == .statuses([.ok]))
        #expect(harness.replies(to: firstID, of: first).map(\.status) == [.ok])
        #expect(harness.replies(to: secondID, of: second).isEmpty)
        #expect(harness.release([testID(2)], from: holder) == .statuses([.ok]))
        #expect(harness.replies(to: secondID, of: second).map(\.status) == [.ok])
        #expect(harness.statistics.pendingCreates == 0)
        harness.expectConsistent()
    }

    @Test func createQueuedBehindAnExpiredCreateIsServedWhenTheHeadTimesOut() {
        let harness = EngineHarness(capacity: 2048)
        let holder = harness.connect()
        let big = harness.connect()
        let small = harness.connect()
        harness.putHeld(testID(1), size: 1024, from: holder)
        harness.putHeld(testID(2), size: 1024, from: holder)
        let bigID = harness.freshRequestID()
        let smallID = harness.freshRequestID()
        #expect(harness.create(testID(3), data: 2048, timeout: 100, from: big, requestID: bigID) == nil)
        #expect(harness.create(testID(4), data: 1024, timeout: -1, from: small, requestID: smallID) == nil)

        // Frees room for the small create only; the big one at the head still doesn't fit, so both wait.
        #expect(harness.release([testID(2)], from: holder) == .statuses([.ok]))
        #expect(harness.replies(to: bigID, of: big).isEmpty)
        #expect(harness.replies(to: smallID, of: small).isEmpty, "first come, first served")

        harness.clock.advance(milliseconds: 100)
        harness.engine.fireDeadlines()
        #expect(harness.replies(to: bigID, of: big).map(\.status) == [.outOfMemory])
        #expect(harness.replies(to: smallID, of: small).map(\.status) == [.ok],
                "once the head is gone the next waiting create gets the free space")
        #expect(harness.statistics.pendingCreates == 0)
        harness.expectConsistent()
    }

    @Test func cancelOfTheHeadWaitingCreateLetsTheNextOneHaveTheSpace() {
        let harness = EngineHarness(capacity: 2048)
        let holder = harness.connect()
        let big = harness.connect()
        let small = harness.connect()
        harness.putHeld(testID(1), size: 1024, from: holder)
        harness.putHeld(testID(2), size: 1024, from: holder)
        #expect(harness.create(testID(3), data: 2048, timeout: -1, from: big, requestID: 20) == nil)
        #expect(harness.create(testID(4), data: 1024, timeout: -1, from: small, requestID: 21) == nil)
        #expect(harness.release([testID(2)], from: holder) == .statuses([.ok]))
        #expect(harness.replies(to: 21, of: small).isEmpty, "first come, first served")

        #expect(harness.send(.cancel(requestID: 20), from: big) == .done)
        #expect(harness.replies(to: 20, of: big).map(\.status) == [.cancelled])
        #expect(harness.replies(to: 21, of: small).map(\.status) == [.ok],
                "once the head is withdrawn the next waiting create gets the free space")
        #expect(harness.statistics.pendingCreates == 0)
        harness.expectConsistent()
    }

    @Test func staleDeadlineOfAnAnsweredCreateDoesNotExpireALaterCreateReusingItsRequestID() {
        let harness = EngineHarness(capacity: 1024)
        let holder = harness.connect()
        let waiter = harness.connect()
        harness.putHeld(testID(1), size: 1024, from: holder)
        #expect(harness.create(testID(2), data: 1024, timeout: 100, from: waiter, requestID: 3) == nil)
        #expect(harness.release([testID(1)], from: holder) == .statuses([.ok]))
        #expect(harness.replies(to: 3, of: waiter).map(\.status) == [.ok])

        // Request id 3 is free again; this create waits forever for testID(2)'s space.
        #expect(harness.create(testID(5), data: 1024, timeout: -1, from: waiter, requestID: 3) == nil)
        harness.clock.advance(milliseconds: 200)
        harness.engine.fireDeadlines()
        #expect(harness.replies(to: 3, of: waiter).count == 1, "the first create's deadline must not expire the second")
        #expect(harness.statistics.pendingCreates == 1)
        #expect(harness.abort(testID(2), from: waiter) == .done)
        #expect(harness.replies(to: 3, of: waiter).map(\.status) == [.ok, .ok])
        harness.expectConsistent()
    }

    @Test func reusedRequestIDOfAWaitingCreateIsRejectedAndWaitingCreateLimitApplies() {
        let harness = EngineHarness(capacity: 1024) { $0.maxWaitingCreatesPerClient = 2 }
        let holder = harness.connect()
        let waiter = harness.connect()
        harness.putHeld(testID(1), size: 1024, from: holder)
        #expect(harness.create(testID(2), data: 100, timeout: -1, from: waiter, requestID: 10) == nil)
        #expect(harness.create(testID(3), data: 100, timeout: -1, from: waiter, requestID: 10)?.status == .invalidRequest)
        #expect(harness.create(testID(3), data: 100, timeout: -1, from: waiter, requestID: 11) == nil)
        #expect(harness.create(testID(4), data: 100, timeout: -1, from: waiter, requestID: 12)?.status == .limitReached)
        #expect(harness.create(testID(4), data: 100, timeout: -1, from: holder) == nil, "the limit is per client")
        #expect(harness.statistics.pendingCreates == 3)
        harness.expectConsistent()
    }
}

extension EngineHarness {
    @discardableResult
    func evict(bytes: Int, from client: ClientID) -> Reply? { send(.evict(bytes: bytes), from: client) }
}
