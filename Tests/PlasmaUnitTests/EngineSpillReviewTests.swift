import PlasmaCore
@testable import PlasmaEngine
import Testing

/// Defects found by review of spills and restores off the loop (StoreEngine+SpillInFlight.swift,
/// StoreEngine+External.swift), each driven through the engine alone with the fake sink.
@Suite struct EngineSpillReviewTests {
    @Test func aCreateThatWontWaitIsAnsweredWhenItsSpillEndsThoughAnEarlierCreateStillWaits() {
        let sink = RecordingSpillSink()
        sink.holdSpills = true
        let store = LoneEngine(capacity: 1024, spillSink: sink)
        let client = store.engine.connect()
        #expect(store.put(testID(1), size: 512, byte: 0xA1, by: client))
        #expect(store.put(testID(2), size: 512, byte: 0xB2, by: client))
        guard case .answered = store.engine.get([testID(1)], timeoutMilliseconds: 0, client: client, ticket: 1) else {
            Issue.record("testID(1) not pinned")
            return
        }
        // Can't fit while testID(1) is held: waits at the head of the queue, evicting nothing.
        #expect(store.engine.create(testID(3), dataSize: 1024, metadataSize: 0, timeoutMilliseconds: -1,
                                    client: client, ticket: 3) == .waiting)
        let small = InlineObject(id: testID(4), data: [UInt8](repeating: 0xD4, count: 512))
        #expect(store.engine.createAndSeal(small, timeoutMilliseconds: 0, client: client, ticket: 4) == .waiting)
        #expect(sink.inFlight == [testID(2)])

        sink.complete(testID(2))
        store.engine.spillsFinished()
        #expect(store.observer.take() == [.spilled(testID(2), 512), .create(client, 4, sealing: true, .success(.sealed))],
                "the create that won't wait is not held behind the one that waits for more")
        #expect(store.engine.statistics.pendingCreates == 1)
        #expect(store.engine.checkInvariants())
    }

    @Test func aSpillOfAnObjectAGetHoldsKeepsItWhenTheWriteEnds() {
        let sink = RecordingSpillSink()
        sink.holdSpills = true
        let store = LoneEngine(capacity: 1024, spillSink: sink)
        let client = store.engine.connect()
        #expect(store.put(testID(1), size: 512, byte: 0xA1, by: client))
        guard let slot = store.engine.objects.slot(of: testID(1)) else { Issue.record("not stored"); return }
        // The race the get path now prevents (it abandons such spills): a reference taken while the
        // object is leaving. The backstop keeps it.
        store.engine.beginSpill(slot)
        store.engine.addReferences(1, at: slot, for: client)
        sink.complete(testID(1))
        store.engine.spillsFinished()
        #expect(store.engine.objectSnapshots().contains { $0.info.id == testID(1) && !$0.isSpilled }, "still in the arena")
        #expect(sink.discards == [testID(1)] && store.engine.statistics.spilledObjects == 0, "the copy is discarded")
        #expect(store.engine.release(testID(1), client: client) == .ok)
        #expect(store.engine.checkInvariants())
        #expect(store.engine.evict(atLeast: 512).objects == 1, "evictable again once released")
        #expect(store.engine.statistics.spilledObjects == 1)
        #expect(store.engine.checkInvariants())
    }

    @Test func aRestoreThatWontWaitAnswersTheGetsAlreadyWaitingForTheObject() {
        let sink = RecordingSpillSink()
        sink.holdSpills = true
        sink.holdRestores = true
        let store = LoneEngine(capacity: 1024, spillSink: sink)
        let client = store.engine.connect()
        #expect(store.put(testID(1), size: 512, byte: 0xA1, by: client))
        #expect(store.put(testID(2), size: 512, byte: 0xB2, by: client))
        #expect(store.engine.evict(atLeast: 512).objects == 1)
        #expect(store.put(testID(3), size: 512, byte: 0xC3, by: client))
        #expect(store.engine.get([testID(1)], timeoutMilliseconds: -1, client: client, ticket: 7) == .waiting)
        #expect(sink.restoresInFlight.isEmpty, "the read waits for its room")
        _ = store.observer.take()

        let other = store.engine.connect()
        guard case .answered(let found) = store.engine.get([testID(1)], timeoutMilliseconds: 0, client: other, ticket: 1),
              let location = found.first ?? nil
        else { Issue.record("not restored at once"); return }
        #expect(store.memory[location.offset] == 0xA1)
        #expect(store.observer.take().contains(.get(client, 7, .success([location]))), "the waiting get is answered too")
        #expect(store.engine.release(testID(1), client: client) == .ok && store.engine.release(testID(1), client: other) == .ok)
        store.engine.spillsFinished()
        #expect(sink.restoresInFlight.isEmpty && store.engine.checkInvariants())
    }

    @Test func aRestoreRefusedForWantOfRoomBeginsWhenAReleaseFreesIt() {
        let sink = RecordingSpillSink()
        let store = LoneEngine(capacity: 1024, spillSink: sink)
        let client = store.engine.connect()
        #expect(store.put(testID(1), size: 512, byte: 0xA1, by: client))
        #expect(store.engine.evict(atLeast: 512).objects == 1)
        #expect(store.put(testID(2), size: 512, byte: 0xB2, by: client))
        #expect(store.put(testID(3), size: 512, byte: 0xC3, by: client))
        guard case .answered = store.engine.get([testID(2), testID(3)], timeoutMilliseconds: 0, client: client, ticket: 1) else {
            Issue.record("not pinned")
            return
        }
        let other = store.engine.connect()
        #expect(store.engine.get([testID(1)], timeoutMilliseconds: -1, client: other, ticket: 7) == .waiting)
        #expect(sink.restores.isEmpty, "everything else is held: no room")
        _ = store.observer.take()

        // This sink reads at once and, like the hashtable store, never signals: the release alone
        // must bring the read's report back.
        #expect(store.engine.release(testID(2), client: client) == .ok)
        let emissions = store.observer.take()
        guard case .get(other, 7, .success(let found))? = emissions.last, let location = found.first ?? nil else {
            Issue.record("not answered: \(emissions)")
            return
        }
        #expect(store.memory[location.offset] == 0xA1)
        #expect(store.engine.checkInvariants())
    }

    @Test func aFailedWriteOfASpillAGetTookBackCostsNothing() {
        let (store, sink, client) = LoneEngine.withSpillInFlight(timeout: -1)
        guard case .answered(let found) = store.engine.get([testID(1)], timeoutMilliseconds: 0, client: client, ticket: 9),
              found.first != nil
        else { Issue.record("not found"); return }
        #expect(sink.needed == [false], "the sink is told the write is no longer needed")

        sink.refuse = [testID(1)]
        sink.complete(testID(1))
        store.engine.spillsFinished()
        #expect(store.engine.statistics.spillFailures == 0, "no object was lost")
        #expect(store.engine.release(testID(1), client: client) == .ok)
        guard case .answered(let again) = store.engine.get([testID(1)], timeoutMilliseconds: 0, client: client, ticket: 10),
              let location = again.first ?? nil
        else { Issue.record("lost"); return }
        #expect(store.memory[location.offset] == 0xA1)
        #expect(store.engine.checkInvariants())
    }
}

extension EngineSpillReviewTests {
    /// The race itself: making room for one restore of a get collects another restore of the same get
    /// (the object comes back, the newest in the LRU) and then, the arena being fragmented, begins
    /// spilling it. The get abandons that spill before its lookup takes the object.
    @Test func aGetAbandonsTheSpillOfAnObjectItRestoredWhileMakingRoomForAnother() {
        let sink = RecordingSpillSink()
        sink.holdSpills = true
        let store = LoneEngine(capacity: 2048, spillSink: sink)
        let client = store.engine.connect()
        #expect(store.put(testID(1), size: 512, byte: 0xA1, by: client))  // A
        #expect(store.put(testID(2), size: 1024, byte: 0xB2, by: client))  // B
        #expect(store.engine.evict(atLeast: 1536).objects == 2, "A and B spilled")
        #expect(store.put(testID(3), size: 512, byte: 0xC3, by: client))  // Z, at offset 0
        #expect(store.put(testID(4), size: 512, byte: 0xD4, by: client))  // P, at offset 512, held
        guard case .answered = store.engine.get([testID(4)], timeoutMilliseconds: 0, client: client, ticket: 1) else {
            Issue.record("P not held")
            return
        }
        let waiting = InlineObject(id: testID(5), data: [UInt8](repeating: 0xE5, count: 1536))
        #expect(store.engine.createAndSeal(waiting, timeoutMilliseconds: -1, client: client, ticket: 5) == .waiting)
        #expect(sink.inFlight == [testID(3)], "Z leaving")
        sink.complete(testID(3))  // written, not yet collected by the engine
        _ = store.observer.take()

        let reader = store.engine.connect()
        #expect(store.engine.get([testID(1), testID(2)], timeoutMilliseconds: -1, client: reader, ticket: 9) == .waiting)
        #expect(store.engine.objectSnapshots().contains {
            $0.info.id == testID(1) && !$0.isSpilled && $0.info.referenceCount == 1
        }, "A restored and taken by the get")
        #expect(sink.needed == [false], "its spill, begun to make room for B, is abandoned")
        sink.complete(testID(1))
        store.engine.spillsFinished()
        #expect(store.engine.objectSnapshots().contains { $0.info.id == testID(1) && !$0.isSpilled }, "A stays")
        #expect(store.engine.checkInvariants())
        store.engine.cancel(client: reader, ticket: 9)
        #expect(store.engine.objectSnapshots().contains { $0.info.id == testID(1) && $0.info.referenceCount == 0 })
        #expect(store.engine.checkInvariants())
    }

    /// A restore that can't fit until more is released goes behind the others: a smaller one queued
    /// after it begins as soon as its own room frees.
    @Test func aRestoreThatCantFitDoesNotHoldUpASmallerOneBehindIt() {
        let sink = RecordingSpillSink()
        let store = LoneEngine(capacity: 1024, spillSink: sink)
        let holder = store.engine.connect()
        #expect(store.put(testID(1), size: 768, byte: 0xA1, by: holder))
        #expect(store.put(testID(2), size: 256, byte: 0xB2, by: holder))
        #expect(store.engine.evict(atLeast: 1024).objects == 2)
        for (id, size) in [(testID(3), 512), (testID(4), 256), (testID(5), 256)] {
            #expect(store.put(id, size: size, by: holder))
        }
        guard case .answered = store.engine.get([testID(3), testID(4), testID(5)], timeoutMilliseconds: 0, client: holder, ticket: 1) else {
            Issue.record("not held")
            return
        }
        let big = store.engine.connect()
        let small = store.engine.connect()
        #expect(store.engine.get([testID(1)], timeoutMilliseconds: -1, client: big, ticket: 7) == .waiting)
        #expect(store.engine.get([testID(2)], timeoutMilliseconds: -1, client: small, ticket: 8) == .waiting)
        _ = store.observer.take()

        #expect(store.engine.release(testID(5), client: holder) == .ok)  // room for 256 bytes, not 768
        let emissions = store.observer.take()
        #expect(emissions.contains { if case .get(small, 8, .success(let found)) = $0 { found.first ?? nil != nil } else { false } },
                "the small restore began and answered its get: \(emissions)")
        #expect(!emissions.contains { if case .get(big, 7, _) = $0 { true } else { false } })
        #expect(store.engine.statistics.pendingGets == 1)
        #expect(store.engine.checkInvariants())
    }
}
