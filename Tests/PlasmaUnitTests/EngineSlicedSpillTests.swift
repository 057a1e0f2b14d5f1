import PlasmaCore
import PlasmaEngine
import Testing

/// Big gets looked up a slice per loop pass (StoreEngine+GetScan.swift) meeting spills and restores
/// under way: each slice abandons the spills of its ids and restores its spilled ones.
@Suite struct EngineSlicedSpillTests {
    /// Slices of two ids, so that three ids make a sliced get.
    private func store(_ sink: RecordingSpillSink) -> LoneEngine {
        LoneEngine(capacity: 1024, spillSink: sink) { $0.getSliceIDs = 2 }
    }

    private func scanToTheEnd(_ store: LoneEngine) {
        var passes = 0
        while store.engine.hasSlicedWork, passes < 100 {
            store.engine.advanceSlicedWork()
            passes += 1
        }
        #expect(!store.engine.hasSlicedWork)
    }

    @Test func aSlicedGetKeepsAnObjectWhoseSpillIsUnderWay() {
        let (store, sink, _) = LoneEngine.withSpillInFlight(timeout: -1) { $0.getSliceIDs = 2 }

        let reader = store.engine.connect()
        #expect(store.engine.get([testID(2), testID(1), testID(1)], timeoutMilliseconds: 0, client: reader, ticket: 9) == .waiting)
        scanToTheEnd(store)
        guard case .get(reader, 9, .success(let found))? = store.observer.take().last, found.count == 3,
              let first = found[1], found[2] == first, found[0] != nil
        else { Issue.record("not answered with all three"); return }
        #expect(sink.needed == [false], "the spill is abandoned")
        sink.complete()
        store.engine.spillsFinished()
        #expect(store.memory[first.offset] == 0xA1 && store.memory[first.offset + 511] == 0xA1, "never freed under the reader")
        #expect(store.engine.objectSnapshots().contains { $0.info.id == testID(1) && !$0.isSpilled && $0.info.referenceCount == 2 })
        #expect(store.engine.statistics.spillFailures == 0 && store.engine.checkInvariants())
    }

    @Test func aSlicedGetThatWontWaitRestoresItsSpilledIdsAndAnswersTheGetsWaitingForThem() {
        let sink = RecordingSpillSink()
        let store = store(sink)
        let client = store.engine.connect()
        for (seed, byte) in [(UInt8(1), UInt8(0xA1)), (2, 0xB2), (3, 0xC3)] {
            #expect(store.put(testID(seed), size: 512, byte: byte, by: client))
        }
        sink.holdRestores = true
        #expect(store.engine.get([testID(1)], timeoutMilliseconds: -1, client: client, ticket: 7) == .waiting)
        #expect(sink.restoresInFlight == [testID(1)], "testID(1) is being read for the waiting get")
        _ = store.observer.take()

        let reader = store.engine.connect()
        #expect(store.engine.get([testID(1), testID(9), testID(1)], timeoutMilliseconds: 0, client: reader, ticket: 1) == .waiting)
        scanToTheEnd(store)
        let emissions = store.observer.take()
        guard case .get(reader, 1, .success(let found))? = emissions.last, found.count == 3, let location = found[0] else {
            Issue.record("not answered: \(emissions)")
            return
        }
        #expect(found[1] == nil && found[2] == location, "the unknown id is missing")
        #expect(store.memory[location.offset] == 0xA1)
        #expect(emissions.contains(.get(client, 7, .success([location]))), "the get waiting for the read is answered too")
        #expect(store.engine.checkInvariants())
    }

    @Test func aSlicedGetCancelledOrItsClientGoneMidScanLeavesNothingHeld() {
        for leaves in [false, true] {
            let sink = RecordingSpillSink()
            let store = store(sink)
            let client = store.engine.connect()
            for seed in UInt8(1)...3 { #expect(store.put(testID(seed), size: 512, by: client)) }
            sink.holdRestores = true
            let reader = store.engine.connect()
            #expect(store.engine.get([testID(1), testID(2), testID(3), testID(4)], timeoutMilliseconds: -1,
                                     client: reader, ticket: 9) == .waiting)
            store.engine.advanceSlicedWork()  // the first slice: testID(1)'s read begun, testID(2) taken
            #expect(sink.restoresInFlight == [testID(1)] && store.engine.hasSlicedWork)
            _ = store.observer.take()
            if leaves {
                store.engine.disconnect(reader)
            } else {
                store.engine.cancel(client: reader, ticket: 9)
                #expect(store.observer.take() == [.get(reader, 9, .failure(EngineError(.cancelled)))])
            }
            scanToTheEnd(store)
            sink.completeRestores()
            store.engine.spillsFinished()
            #expect(store.observer.take() == [.restored(testID(1), 512)], "nothing answered after the get ended")
            #expect(store.engine.objectSnapshots().allSatisfy { $0.info.referenceCount == 0 }, "no reference left behind")
            #expect(store.engine.checkInvariants())
        }
    }
}
