import PlasmaCore
@testable import PlasmaEngine
@testable import PlasmaStore
import PlasmaWire
import Testing

/// The store engine alone: no sockets, a heap arena, a hand-moved clock. Every scenario ends with the
/// engine's own invariant check. More scenarios live in EngineTests+*.swift.
@Suite struct EngineTests {
    // MARK: Lifecycle

    @Test func createSealGetLifecycleReportsAlignedOffsetSizesAndReferenceCounts() throws {
        let harness = EngineHarness(capacity: 1 << 20)
        let creator = harness.connect()
        let reader = harness.connect()
        let id = testID(1)

        // Something first, so the object under test is not trivially at offset 0.
        harness.put(testID(2), size: 100, from: creator)

        let created = harness.create(id, data: 1000, metadata: 24, from: creator)
        guard case .created(let offset) = created else {
            Issue.record("expected .created, got \(String(describing: created))")
            return
        }
        #expect(offset % 64 == 0)
        #expect(offset + 1024 <= harness.engine.capacity)
        #expect(harness.contains(id, from: reader) == false, "unsealed objects are not visible")
        #expect(harness.get([id], from: reader) == .objects([nil]), "get does not return unsealed objects")

        let beforeSeal = try #require(harness.info(id, from: reader))
        #expect(beforeSeal.state == .created)
        #expect(beforeSeal.referenceCount == 1, "the creator holds a reference")
        #expect(beforeSeal.sealDurationNanoseconds == -1)
        #expect(beforeSeal.createdAtNanoseconds == harness.clock.wallNanoseconds())
        #expect(harness.statistics.createdObjects == 1)

        harness.clock.advance(milliseconds: 5)
        #expect(harness.seal(id, from: creator) == .done)
        #expect(harness.contains(id, from: reader))

        let location = ObjectLocation(offset: offset, dataSize: 1000, metadataSize: 24)
        #expect(harness.get([id], from: reader) == .objects([location]))

        let afterGet = try #require(harness.info(id, from: reader))
        #expect(afterGet.state == .sealed)
        #expect(afterGet.referenceCount == 2, "creator and reader each hold one")
        #expect(afterGet.dataSize == 1000 && afterGet.metadataSize == 24)
        #expect(afterGet.sealDurationNanoseconds == 5_000_000)
        #expect(afterGet.deletePending == false)

        let statistics = harness.statistics
        #expect(statistics.sealedObjects == 2)
        #expect(statistics.createdObjects == 0)
        #expect(statistics.bytesInUse == 1124)
        #expect(statistics.evictableObjects == 1, "only the released object is evictable")
        #expect(statistics.clients == 2)

        #expect(harness.release([id], from: creator) == .statuses([.ok]))
        #expect(harness.release([id], from: reader) == .statuses([.ok]))
        #expect(harness.statistics.evictableObjects == 2)
        #expect(harness.info(id, from: reader)?.referenceCount == 0)
        harness.expectConsistent()
    }

    @Test func connectRepliesWithCapacityArenaSizeAndClientID() {
        let harness = EngineHarness(capacity: 1000, arenaSize: 4096)
        let client = harness.connect()
        #expect(harness.send(.connect(clientName: "t"), from: client)
                == .connected(capacity: 1000, arenaSize: 4096, clientID: client.rawValue))
        #expect(harness.send(.stats, from: client) == .stats(harness.statistics))
        harness.expectConsistent()
    }

    @Test func listIsOrderedByCreationTime() {
        let harness = EngineHarness(capacity: 4096)
        let client = harness.connect()
        for seed in [9, 3, 7] as [UInt8] {
            harness.put(testID(seed), size: 10, from: client)
            harness.clock.advance(milliseconds: 1)
        }
        #expect(harness.list(from: client).map(\.id) == [testID(9), testID(3), testID(7)])
        harness.expectConsistent()
    }

    // MARK: Error statuses

    @Test func creatingAnExistingIDFailsWithObjectExists() {
        let harness = EngineHarness(capacity: 4096)
        let a = harness.connect()
        let b = harness.connect()
        let id = testID(1)
        #expect(harness.create(id, data: 10, from: a)?.status == .ok)
        #expect(harness.create(id, data: 10, from: b)?.status == .objectExists, "unsealed counts as existing")
        #expect(harness.seal(id, from: a) == .done)
        #expect(harness.create(id, data: 10, from: a)?.status == .objectExists)
        #expect(harness.createAndSeal(id, data: [1], from: b)?.status == .objectExists)
        #expect(harness.statistics.bytesInUse == 10, "failed creates reserve nothing")
        harness.expectConsistent()
    }

    @Test func sealRejectsNonCreatorDoubleSealAndUnknownID() {
        let harness = EngineHarness(capacity: 4096)
        let creator = harness.connect()
        let other = harness.connect()
        let id = testID(1)
        #expect(harness.create(id, data: 10, from: creator)?.status == .ok)
        #expect(harness.seal(id, from: other)?.status == .notCreator)
        #expect(harness.contains(id, from: other) == false, "a refused seal leaves the object unsealed")
        #expect(harness.seal(id, from: creator) == .done)
        #expect(harness.seal(id, from: creator)?.status == .objectAlreadySealed)
        #expect(harness.seal(testID(2), from: creator)?.status == .objectNotFound)
        harness.expectConsistent()
    }

    @Test func abortRejectsNonCreatorAndSealedObjectsAndFreesTheSpace() {
        let harness = EngineHarness(capacity: 4096)
        let creator = harness.connect()
        let other = harness.connect()
        let id = testID(1)
        #expect(harness.create(id, data: 100, from: creator)?.status == .ok)
        #expect(harness.abort(id, from: other)?.status == .notCreator)
        #expect(harness.statistics.bytesInUse == 100)
        #expect(harness.abort(id, from: creator) == .done)
        #expect(harness.statistics.bytesInUse == 0)
        #expect(harness.statistics.arenaBytesAllocated == 0)
        #expect(harness.list(from: creator).isEmpty)
        #expect(harness.abort(id, from: creator)?.status == .objectNotFound)

        // Aborted ids can be created again; sealed objects can't be aborted.
        #expect(harness.create(id, data: 100, from: creator)?.status == .ok)
        #expect(harness.seal(id, from: creator) == .done)
        let refused = harness.abort(id, from: creator)
        #expect(refused != nil && refused?.status != .ok)
        #expect(harness.contains(id, from: other))
        harness.expectConsistent()
    }

    @Test func releaseOfAnUnheldObjectReportsNotHeldPerItem() {
        let harness = EngineHarness(capacity: 4096)
        let creator = harness.connect()
        let other = harness.connect()
        harness.putHeld(testID(1), size: 10, from: creator)
        #expect(harness.release([testID(1)], from: other) == .statuses([.notHeld]))
        #expect(harness.release([testID(1), testID(2)], from: creator) == .statuses([.ok, .notHeld]))
        #expect(harness.release([testID(1)], from: creator) == .statuses([.notHeld]), "released only once")
        #expect(harness.release([], from: creator) == .statuses([]))
        #expect(harness.info(testID(1), from: creator)?.referenceCount == 0)
        harness.expectConsistent()
    }

    // MARK: Sizes

    @Test func zeroSizeObjectWorksEndToEnd() {
        let harness = EngineHarness(capacity: 4096)
        let creator = harness.connect()
        let reader = harness.connect()
        let id = testID(1)
        guard case .created = harness.create(id, data: 0, metadata: 0, from: creator) else {
            Issue.record("zero-size create failed")
            return
        }
        #expect(harness.seal(id, from: creator) == .done)
        guard case .objects(let found) = harness.get([id], timeout: -1, from: reader), case let location?? = found.first
        else {
            Issue.record("zero-size object not found")
            return
        }
        #expect(location.dataSize == 0 && location.metadataSize == 0)
        #expect(harness.statistics.bytesInUse == 0)
        #expect(harness.statistics.arenaBytesAllocated == 0, "a zero-byte object takes no arena block")
        #expect(harness.release([id], from: reader) == .statuses([.ok]))
        #expect(harness.release([id], from: creator) == .statuses([.ok]))
        #expect(harness.delete([id], from: reader) == .statuses([.ok]))
        #expect(harness.contains(id, from: reader) == false)
        #expect(harness.createAndSeal(testID(2), data: [], from: creator) == .done)
        #expect(harness.contains(testID(2), from: reader))
        harness.expectConsistent()
    }

    @Test(arguments: [4096, 1000, 64 * 1001])
    func objectOfExactlyTheCapacityFitsAnEmptyStoreAndOneMoreByteIsTooLarge(capacity: Int) {
        let harness = EngineHarness(capacity: capacity)
        let client = harness.connect()
        #expect(harness.create(testID(1), data: capacity + 1, from: client)?.status == .tooLarge)
        #expect(harness.create(testID(1), data: capacity, metadata: 1, from: client)?.status == .tooLarge)
        #expect(harness.create(testID(1), data: Int.max, metadata: 1, from: client)?.status == .tooLarge,
                "an overflowing size is too large, not a crash")
        #expect(harness.create(testID(1), data: capacity + 1, timeout: -1, from: client)?.status == .tooLarge,
                "too large never waits")
        #expect(harness.createAndSeal(testID(1), data: [UInt8](repeating: 1, count: capacity + 1), from: client)?
            .status == .tooLarge)
        #expect(harness.statistics.pendingCreates == 0)

        #expect(harness.create(testID(1), data: capacity - 10, metadata: 10, from: client) == .created(offset: 0))
        #expect(harness.statistics.bytesInUse == Int64(capacity))
        #expect(harness.create(testID(2), data: 1, from: client)?.status == .outOfMemory)
        harness.expectConsistent()
    }

    @Test func exactCapacityCreateEvictsEverythingEvictable() {
        let harness = EngineHarness(capacity: 4096)
        let client = harness.connect()
        for seed in 1...4 as ClosedRange<UInt8> { harness.put(testID(seed), size: 1000, from: client) }
        #expect(harness.create(testID(9), data: 4096, from: client) == .created(offset: 0))
        #expect(harness.statistics.evictedObjects == 4)
        #expect(harness.statistics.evictedBytes == 4000)
        harness.expectConsistent()
    }

    @Test func inlineObjectsAreCopiedIntoTheArenaIncludingEmptyDataOrMetadata() {
        let harness = EngineHarness(capacity: 4096)
        let writer = harness.connect()
        let reader = harness.connect()
        let cases: [(ObjectID, [UInt8], [UInt8])] = [
            (testID(1), [1, 2, 3, 4, 5], [9, 8]),
            (testID(2), [], [7, 7, 7]),
            (testID(3), [42], []),
        ]
        for (id, data, metadata) in cases {
            #expect(harness.createAndSeal(id, data: data, metadata: metadata, from: writer) == .done)
            guard case .objects(let found) = harness.get([id], from: reader), case let location?? = found.first
            else {
                Issue.record("inline object \(id) not found")
                continue
            }
            #expect(location.dataSize == data.count && location.metadataSize == metadata.count)
            #expect(location.offset % 64 == 0)
            let stored = Array(harness.memory[location.offset..<location.offset + data.count + metadata.count])
            #expect(stored == data + metadata)
        }
        #expect(harness.info(testID(1), from: reader)?.referenceCount == 1, "create-and-seal keeps no reference")
        harness.expectConsistent()
    }

    // MARK: Get

    @Test func getWithZeroTimeoutOfMissingIDAnswersAtOnceWithNil() {
        let harness = EngineHarness(capacity: 4096)
        let client = harness.connect()
        #expect(harness.get([testID(1)], timeout: 0, from: client) == .objects([nil]))
        #expect(harness.get([], timeout: -1, from: client) == .objects([]), "an empty get never waits")
        #expect(harness.statistics.pendingGets == 0)
        #expect(harness.engine.nextDeadline == nil)
        harness.expectConsistent()
    }

    @Test func waitingGetIsAnsweredOnlyWhenTheObjectIsSealed() throws {
        let harness = EngineHarness(capacity: 4096)
        let creator = harness.connect()
        let reader = harness.connect()
        let id = testID(1)
        let requestID = harness.freshRequestID()
        #expect(harness.get([id], timeout: -1, from: reader, requestID: requestID) == nil)
        #expect(harness.statistics.pendingGets == 1)
        #expect(harness.engine.nextDeadline == nil, "waiting forever sets no deadline")

        guard case .created(let offset) = harness.create(id, data: 50, metadata: 5, from: creator) else {
            Issue.record("create failed")
            return
        }
        #expect(harness.replies(to: requestID, of: reader).isEmpty, "creating is not sealing")
        #expect(harness.statistics.pendingGets == 1)

        let replies = harness.repliesDuring { _ = harness.seal(id, from: creator) }
        let answer = try #require(replies.first { $0.client == reader })
        #expect(answer.requestID == requestID && answer.type == .get)
        #expect(answer.reply == .objects([ObjectLocation(offset: offset, dataSize: 50, metadataSize: 5)]))
        #expect(harness.statistics.pendingGets == 0)
        #expect(harness.info(id, from: creator)?.referenceCount == 2, "the waiter got a reference")
        #expect(harness.release([id], from: reader) == .statuses([.ok]))
        harness.expectConsistent()
    }

    @Test func waitingGetIsAnsweredByCreateAndSealFromAnotherClient() {
        let harness = EngineHarness(capacity: 4096)
        let writer = harness.connect()
        let reader = harness.connect()
        let requestID = harness.freshRequestID()
        #expect(harness.get([testID(1)], timeout: -1, from: reader, requestID: requestID) == nil)
        #expect(harness.createAndSeal(testID(1), data: [1, 2, 3], from: writer) == .done)
        let answers = harness.replies(to: requestID, of: reader)
        #expect(answers.count == 1)
        guard case .objects(let found)? = answers.first, case let location?? = found.first else {
            Issue.record("expected one found object, got \(answers)")
            return
        }
        #expect(location.dataSize == 3)
        #expect(harness.info(testID(1), from: reader)?.referenceCount == 1)
        #expect(harness.statistics.evictableObjects == 0, "a referenced object is not evictable")
        harness.expectConsistent()
    }

    @Test func multiIDGetWithDuplicateCompletesWhenTheLastIDIsSealed() throws {
        let harness = EngineHarness(capacity: 4096)
        let writer = harness.connect()
        let reader = harness.connect()
        let (x, y) = (testID(1), testID(2))
        let requestID = harness.freshRequestID()
        #expect(harness.get([x, y, x], timeout: -1, from: reader, requestID: requestID) == nil)

        #expect(harness.createAndSeal(x, data: [1], from: writer) == .done)
        #expect(harness.replies(to: requestID, of: reader).isEmpty, "y is still missing")
        #expect(harness.statistics.pendingGets == 1)
        #expect(harness.info(x, from: writer)?.referenceCount == 2,
                "a found object is referenced once per position at once, so it can't be evicted while waiting")

        #expect(harness.createAndSeal(y, data: [2, 2], from: writer) == .done)
        let answers = harness.replies(to: requestID, of: reader)
        #expect(answers.count == 1)
        guard case .objects(let found)? = answers.first else {
            Issue.record("expected objects, got \(answers)")
            return
        }
        #expect(found.count == 3)
        let xLocation = try #require(found[0])
        #expect(found[2] == xLocation)
        #expect(found[1]?.dataSize == 2)
        #expect(harness.statistics.pendingGets == 0)

        #expect(harness.release([x, x, y], from: reader) == .statuses([.ok, .ok, .ok]))
        #expect(harness.release([x], from: reader) == .statuses([.notHeld]))
        #expect(harness.statistics.evictableObjects == 2)
        harness.expectConsistent()
    }

    @Test func waitingGetTimesOutWithAPartialResultAndPendingGetsGoesBackDown() throws {
        let harness = EngineHarness(capacity: 4096)
        let writer = harness.connect()
        let reader = harness.connect()
        let (x, y) = (testID(1), testID(2))
        let start = harness.clock.monotonicNanoseconds()
        let requestID = harness.freshRequestID()
        #expect(harness.get([x, y], timeout: 100, from: reader, requestID: requestID) == nil)
        #expect(harness.statistics.pendingGets == 1)
        #expect(harness.engine.nextDeadline == start + 100_000_000)

        #expect(harness.createAndSeal(x, data: [1, 2], from: writer) == .done)
        harness.clock.advance(milliseconds: 99)
        harness.engine.fireDeadlines()
        #expect(harness.replies(to: requestID, of: reader).isEmpty, "not yet due")

        harness.clock.advance(milliseconds: 1)
        harness.engine.fireDeadlines()
        let answers = harness.replies(to: requestID, of: reader)
        #expect(answers.count == 1)
        guard case .objects(let found)? = answers.first else {
            Issue.record("expected objects, got \(answers)")
            return
        }
        #expect(found.count == 2)
        #expect(try #require(found[0]).dataSize == 2)
        #expect(found[1] == nil)
        #expect(harness.statistics.pendingGets == 0)

        // Sealing y later sends nothing more and gives the reader no reference.
        #expect(harness.createAndSeal(y, data: [3], from: writer) == .done)
        #expect(harness.replies(to: requestID, of: reader).count == 1)
        #expect(harness.release([x, y], from: reader) == .statuses([.ok, .notHeld]))
        harness.expectConsistent()
    }

    @Test func reusedRequestIDOfAWaitingGetIsRejectedAndTheFirstGetKeepsWaiting() {
        let harness = EngineHarness(capacity: 4096)
        let writer = harness.connect()
        let reader = harness.connect()
        #expect(harness.get([testID(1)], timeout: -1, from: reader, requestID: 5) == nil)
        #expect(harness.get([testID(2)], timeout: -1, from: reader, requestID: 5)?.status == .invalidRequest)
        #expect(harness.statistics.pendingGets == 1)
        // The same request id on another client is a different request.
        #expect(harness.get([testID(2)], timeout: -1, from: writer, requestID: 5) == nil)
        #expect(harness.statistics.pendingGets == 2)

        #expect(harness.createAndSeal(testID(1), data: [1], from: writer) == .done)
        let answers = harness.replies(to: 5, of: reader)
        #expect(answers.count == 2, "one refusal, then the first get's answer")
        guard case .objects(let found)? = answers.last else {
            Issue.record("expected objects, got \(answers)")
            return
        }
        #expect(found.count == 1 && found[0]?.dataSize == 1)
        harness.expectConsistent()
    }

    @Test func waitingGetLimitPerClientAnswersLimitReachedWithoutTakingReferences() {
        let harness = EngineHarness(capacity: 4096) { $0.maxWaitingGetsPerClient = 2 }
        let writer = harness.connect()
        let reader = harness.connect()
        harness.put(testID(9), size: 10, from: writer)
        #expect(harness.get([testID(1)], timeout: -1, from: reader) == nil)
        #expect(harness.get([testID(2)], timeout: 1000, from: reader) == nil)
        #expect(harness.get([testID(9), testID(3)], timeout: -1, from: reader)?.status == .limitReached)
        #expect(harness.info(testID(9), from: reader)?.referenceCount == 0, "a refused get takes no reference")
        guard case .objects(let found) = harness.get([testID(9), testID(3)], timeout: 0, from: reader) else {
            Issue.record("a get that doesn't wait is not limited")
            return
        }
        #expect(found.count == 2 && found[0]?.dataSize == 10 && found[1] == nil)
        #expect(harness.get([testID(3)], timeout: -1, from: writer) == nil, "the limit is per client")
        #expect(harness.statistics.pendingGets == 3)

        #expect(harness.createAndSeal(testID(1), data: [1], from: writer) == .done)
        #expect(harness.get([testID(4)], timeout: -1, from: reader) == nil, "room again after one completed")
        #expect(harness.statistics.pendingGets == 3)
        harness.expectConsistent()
    }

    @Test func staleDeadlineOfAnAnsweredGetDoesNotCutShortALaterGetReusingItsRequestID() {
        let harness = EngineHarness(capacity: 4096)
        let writer = harness.connect()
        let reader = harness.connect()
        #expect(harness.get([testID(1)], timeout: 100, from: reader, requestID: 7) == nil)
        #expect(harness.createAndSeal(testID(1), data: [1], from: writer) == .done)
        #expect(harness.replies(to: 7, of: reader).count == 1)

        // Request id 7 is free again; this get waits forever.
        #expect(harness.get([testID(2)], timeout: -1, from: reader, requestID: 7) == nil)
        harness.clock.advance(milliseconds: 200)
        harness.engine.fireDeadlines()
        #expect(harness.replies(to: 7, of: reader).count == 1, "the first get's deadline must not answer the second")
        #expect(harness.statistics.pendingGets == 1)
        #expect(harness.createAndSeal(testID(2), data: [2], from: writer) == .done)
        #expect(harness.replies(to: 7, of: reader).count == 2)
        harness.expectConsistent()
    }

    @Test func cancelOfAWaitingGetAnswersItCancelledAndGivesBackWhatItFound() {
        let harness = EngineHarness(capacity: 4096)
        let writer = harness.connect()
        let reader = harness.connect()
        harness.put(testID(1), size: 10, from: writer)
        #expect(harness.get([testID(1), testID(2)], timeout: -1, from: reader, requestID: 40) == nil)
        #expect(harness.info(testID(1), from: reader)?.referenceCount == 1)

        let during = harness.repliesDuring { _ = harness.send(.cancel(requestID: 40), from: reader, requestID: 41) }
        #expect(during.map(\.requestID) == [40, 41], "the withdrawn get is answered before the cancel")
        #expect(during.first?.reply.status == .cancelled && during.first?.type == .get)
        #expect(during.last?.reply == .done && during.last?.type == .cancel)
        #expect(harness.statistics.pendingGets == 0)
        #expect(harness.info(testID(1), from: reader)?.referenceCount == 0, "the found object's reference is given back")
        #expect(harness.statistics.evictableObjects == 1)

        // Too late or unknown: only the cancel itself is answered.
        #expect(harness.send(.cancel(requestID: 40), from: reader) == .done)
        #expect(harness.createAndSeal(testID(2), data: [1], from: writer) == .done)
        #expect(harness.replies(to: 40, of: reader).count == 1)
        // A client can't cancel another client's wait.
        #expect(harness.get([testID(3)], timeout: -1, from: reader, requestID: 50) == nil)
        #expect(harness.send(.cancel(requestID: 50), from: writer) == .done)
        #expect(harness.statistics.pendingGets == 1)
        harness.expectConsistent()
    }
}
