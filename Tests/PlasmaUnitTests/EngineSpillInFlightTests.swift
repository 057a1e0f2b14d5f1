import PlasmaCore
import PlasmaEngine
import Testing

/// Spills in flight (StoreEngine+SpillInFlight.swift): the fake sink holds each spill until the test
/// completes it, as the server's writer thread would, and reads the object's bytes only then.
@Suite struct EngineSpillInFlightTests {
    @Test func aCreateWaitsForTheSpillThatMakesItsRoomAndIsServedWhenItEnds() {
        let (store, sink, client) = LoneEngine.withSpillInFlight()
        #expect(store.engine.contains(testID(1)))
        #expect(store.engine.objectSnapshots().contains { $0.info.id == testID(1) && !$0.isSpilled }, "still in the arena")
        #expect(store.observer.take().isEmpty)
        #expect(store.engine.checkInvariants())

        sink.complete(testID(1))
        store.engine.spillsFinished()
        #expect(sink.stored[testID(1)] == [UInt8](repeating: 0xA1, count: 512), "its block stayed whole until the write")
        #expect(store.observer.take() == [.spilled(testID(1), 512), .create(client, 3, sealing: true, .success(.sealed))])
        #expect(store.engine.objectSnapshots().contains { $0.info.id == testID(1) && $0.isSpilled })
        #expect(store.engine.spillsInFlight == 0 && store.engine.statistics.spilledObjects == 1)
        #expect(store.engine.checkInvariants())
    }

    @Test func aGetOfAnObjectBeingSpilledKeepsItAndTheCopyIsDiscarded() {
        let (store, sink, client) = LoneEngine.withSpillInFlight()
        guard case .answered(let found) = store.engine.get([testID(1)], timeoutMilliseconds: 0, client: client, ticket: 9),
              let location = found.first ?? nil
        else { Issue.record("the object being spilled was not found"); return }
        #expect(store.memory[location.offset] == 0xA1 && store.memory[location.offset + 511] == 0xA1)

        sink.complete(testID(1))
        store.engine.spillsFinished()
        #expect(sink.discards == [testID(1)] && sink.stored[testID(1)] == nil, "the written copy is dropped")
        #expect(store.engine.objectSnapshots().contains { $0.info.id == testID(1) && !$0.isSpilled })
        #expect(sink.inFlight == [testID(2)], "the waiting create's room now comes from the next in the LRU")
        #expect(store.observer.take().isEmpty)
        #expect(store.engine.checkInvariants())

        sink.complete(testID(2))
        store.engine.spillsFinished()
        #expect(store.observer.take() == [.spilled(testID(2), 512), .create(client, 3, sealing: true, .success(.sealed))])
        #expect(store.engine.release(testID(1), client: client) == .ok)
        #expect(store.engine.checkInvariants())
    }

    @Test func aDeleteDuringASpillFreesTheIdAtOnceAndTheBlockWhenTheWriteEnds() {
        let (store, sink, client) = LoneEngine.withSpillInFlight()
        #expect(store.engine.delete(testID(1)) == .deleted)
        #expect(!store.engine.contains(testID(1)) && sink.discards == [testID(1)])
        #expect(store.engine.checkInvariants())
        #expect(store.observer.take().isEmpty, "the create still waits: the block is being read")

        sink.complete(testID(1))
        store.engine.spillsFinished()
        #expect(sink.stored[testID(1)] == nil, "the copy of a deleted object is not kept")
        #expect(store.observer.take() == [.create(client, 3, sealing: true, .success(.sealed))], "no spill announced")
        let statistics = store.engine.statistics
        #expect(statistics.spilledObjects == 0 && statistics.deletedObjects == 1)
        #expect(store.engine.checkInvariants())
    }

    @Test func theEvictCommandWaitsForSpillsInFlightAndSpillsOnlyWhatIsEvictable() {
        let (store, sink, client) = LoneEngine.withSpillInFlight()
        let freed = store.engine.evict(atLeast: 2048)
        #expect(freed.objects == 1 && freed.bytes == 512, "testID(1), already leaving, is not evicted twice")
        #expect(sink.inFlight.isEmpty && sink.spills == [testID(1), testID(2)])
        #expect(store.observer.take() == [.spilled(testID(1), 512), .spilled(testID(2), 512),
                                          .create(client, 3, sealing: true, .success(.sealed))])
        #expect(store.engine.checkInvariants())
    }

    @Test func aFailedSpillDropsTheObjectAsEvictionWouldCountsItAndServesTheCreate() {
        let (store, sink, client) = LoneEngine.withSpillInFlight()
        sink.refuse = [testID(1)]
        sink.complete(testID(1))
        store.engine.spillsFinished()
        #expect(!store.engine.contains(testID(1)))
        #expect(store.engine.statistics.spillFailures == 1 && store.engine.statistics.spilledObjects == 0)
        #expect(store.observer.take() == [.create(client, 3, sealing: true, .success(.sealed))])
        #expect(store.engine.checkInvariants())
    }

    @Test func aCreateThatWontWaitFailsWhenTheSpillItWaitedForIsTakenBack() {
        let sink = RecordingSpillSink()
        sink.holdSpills = true
        let store = LoneEngine(capacity: 1024, spillSink: sink)
        let client = store.engine.connect()
        #expect(store.put(testID(1), size: 1024, by: client))
        let second = InlineObject(id: testID(2), data: [UInt8](repeating: 2, count: 1024))
        #expect(store.engine.createAndSeal(second, timeoutMilliseconds: 0, client: client, ticket: 2) == .waiting)
        guard case .answered(let found) = store.engine.get([testID(1)], timeoutMilliseconds: 0, client: client, ticket: 5),
              found.first != nil
        else { Issue.record("not found"); return }
        sink.complete()
        store.engine.spillsFinished()
        guard case .create(_, 2, sealing: true, .failure(let error))? = store.observer.take().first else {
            Issue.record("the create was not answered")
            return
        }
        #expect(error.status == .outOfMemory)
        #expect(store.engine.statistics.pendingCreates == 0)
        #expect(store.engine.checkInvariants())
    }
}

/// Restores in flight: a get that waits is answered when the read ends, as at a seal.
@Suite struct EngineRestoreInFlightTests {
    /// testID(1) spilled (by putting 2 and 3 into a 1024-byte store), then a get of it that waits.
    private func storeWithRestoreInFlight(timeout: Int64 = -1) -> (LoneEngine, RecordingSpillSink, ClientID) {
        let sink = RecordingSpillSink()
        sink.holdRestores = true
        let store = LoneEngine(capacity: 1024, spillSink: sink)
        let client = store.engine.connect()
        for (seed, byte) in [(UInt8(1), UInt8(0xA1)), (2, 0xB2), (3, 0xC3)] {
            #expect(store.put(testID(seed), size: 512, byte: byte, by: client))
        }
        #expect(store.engine.get([testID(1)], timeoutMilliseconds: timeout, client: client, ticket: 7) == .waiting)
        #expect(sink.restoresInFlight == [testID(1)] && store.engine.restoresInFlight == 1)
        #expect(store.observer.take() == [.spilled(testID(1), 512), .spilled(testID(2), 512)], "room made for the read")
        return (store, sink, client)
    }

    @Test func aGetThatWaitsIsAnsweredWhenTheReadEnds() {
        let (store, sink, client) = storeWithRestoreInFlight()
        #expect(store.engine.contains(testID(1)) && store.engine.objectSnapshots().contains { $0.info.id == testID(1) && $0.isSpilled })
        #expect(store.engine.create(testID(1), dataSize: 1, metadataSize: 0, timeoutMilliseconds: 0, client: client, ticket: 8)
                == .failed(EngineError(.objectExists, testID(1).hex)), "still known while it comes back")
        #expect(store.engine.checkInvariants())

        sink.completeRestores()
        store.engine.spillsFinished()
        let emissions = store.observer.take()
        guard emissions.count == 2, emissions[0] == .restored(testID(1), 512),
              case .get(client, 7, .success(let found)) = emissions[1], let location = found.first ?? nil
        else { Issue.record("not answered: \(emissions)"); return }
        #expect(store.memory[location.offset] == 0xA1 && store.memory[location.offset + 511] == 0xA1)
        #expect(store.engine.statistics.restoredObjects == 1 && store.engine.restoresInFlight == 0)
        #expect(store.engine.release(testID(1), client: client) == .ok)
        #expect(store.engine.checkInvariants())
    }

    @Test func aDeleteDuringAReadDropsTheObjectAndFreesTheBlockWhenTheReadEnds() {
        let (store, sink, client) = storeWithRestoreInFlight(timeout: 100)
        let allocated = store.engine.statistics.arenaBytesAllocated
        #expect(store.engine.delete(testID(1)) == .deleted && !store.engine.contains(testID(1)))
        #expect(store.engine.statistics.arenaBytesAllocated == allocated, "the read still fills the block")

        sink.completeRestores()
        store.engine.spillsFinished()
        #expect(store.observer.take().isEmpty, "nothing comes back")
        #expect(store.engine.statistics.arenaBytesAllocated == allocated - 512)
        #expect(store.engine.statistics.restoredObjects == 0)
        store.clock.advance(milliseconds: 100)
        store.engine.fireDeadlines()
        #expect(store.observer.take() == [.get(client, 7, .success([nil]))], "the get times out as for any missing object")
        #expect(store.engine.checkInvariants())
    }

    @Test func aGetThatWontWaitWaitsForTheReadUnderWay() {
        let (store, _, client) = storeWithRestoreInFlight()
        let other = store.engine.connect()
        guard case .answered(let found) = store.engine.get([testID(1)], timeoutMilliseconds: 0, client: other, ticket: 1),
              let location = found.first ?? nil
        else { Issue.record("not restored at once"); return }
        #expect(store.memory[location.offset] == 0xA1)
        let emissions = store.observer.take()
        #expect(emissions.first == .restored(testID(1), 512))
        #expect(emissions.contains(.get(client, 7, .success([location]))), "the waiting get is answered too")
        #expect(store.engine.checkInvariants())
    }
}

extension EngineRestoreInFlightTests {
    @Test func aRestoreWhoseRoomIsBeingWrittenOutBeginsWhenTheWriteEnds() {
        let sink = RecordingSpillSink()
        sink.holdSpills = true
        sink.holdRestores = true
        let store = LoneEngine(capacity: 1024, spillSink: sink)
        let client = store.engine.connect()
        #expect(store.put(testID(1), size: 512, byte: 0xA1, by: client))
        #expect(store.put(testID(2), size: 512, byte: 0xB2, by: client))
        #expect(store.engine.evict(atLeast: 512).objects == 1, "testID(1) spilled (the command waits for the write)")
        #expect(store.put(testID(3), size: 512, byte: 0xC3, by: client))
        _ = store.observer.take()

        #expect(store.engine.get([testID(1)], timeoutMilliseconds: -1, client: client, ticket: 7) == .waiting)
        #expect(sink.inFlight == [testID(2)] && sink.restoresInFlight.isEmpty, "the read waits for its room")
        sink.complete(testID(2))
        store.engine.spillsFinished()
        #expect(sink.restoresInFlight == [testID(1)], "begun once the write freed the room")
        #expect(store.engine.checkInvariants())
        sink.completeRestores()
        store.engine.spillsFinished()
        let emissions = store.observer.take()
        guard case .get(client, 7, .success(let found))? = emissions.last, let location = found.first ?? nil else {
            Issue.record("not answered: \(emissions)")
            return
        }
        #expect(emissions.prefix(2) == [.spilled(testID(2), 512), .restored(testID(1), 512)])
        #expect(store.memory[location.offset] == 0xA1)
        #expect(store.engine.checkInvariants())
    }
}
