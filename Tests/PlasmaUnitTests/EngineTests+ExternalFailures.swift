@testable import PlasmaStore
import PlasmaCore
import PlasmaPosix
@testable import PlasmaEngine
import Testing

/// What the engine does when its spill sink fails (StoreEngine+External.swift): it counts, and the
/// object leaves the books the way it would without an external store.
@Suite struct ExternalFailureEngineTests {
    /// A hashtable store that refuses to keep `refusePut` and loses `loseOnTake` on the way back.
    final class FlakyExternalStore: ExternalStore {
        let inner = HashtableExternalStore()
        var refusePut: Set<ObjectID> = []
        var loseOnTake: Set<ObjectID> = []

        var completions: EventFD? { nil }
        private var refused: [SpillCompletion] = []

        func beginSpill(_ id: ObjectID, _ bytes: UnsafeRawBufferPointer, dataSize: Int, ticket: UInt64) {
            guard !refusePut.contains(id) else { return refused.append(SpillCompletion(ticket: ticket, succeeded: false)) }
            inner.beginSpill(id, bytes, dataSize: dataSize, ticket: ticket)
        }

        func finishedSpills(waitingForAll: Bool) -> [SpillCompletion] {
            defer { refused.removeAll() }
            return refused + inner.finishedSpills(waitingForAll: waitingForAll)
        }

        func restore(_ id: ObjectID, into buffer: UnsafeMutableRawBufferPointer, dataSize: Int) -> Bool {
            guard !loseOnTake.contains(id) else {
                inner.discard(id)
                return false
            }
            return inner.restore(id, into: buffer, dataSize: dataSize)
        }

        func beginRestore(_ id: ObjectID, into buffer: UnsafeMutableRawBufferPointer, dataSize: Int, ticket: UInt64) {
            refused.append(SpillCompletion(ticket: ticket, succeeded: restore(id, into: buffer, dataSize: dataSize)))
        }

        func discard(_ id: ObjectID) { inner.discard(id) }
        func removeAll() { inner.removeAll() }
    }

    @Test func aRefusedSpillIsCountedAndTheObjectEvictedAsWithoutAStore() {
        let store = FlakyExternalStore()
        store.refusePut = [testID(1)]
        let harness = EngineHarness(capacity: 10_000, spillSink: store)
        let client = harness.connect()
        for seed in 1...3 { harness.put(testID(UInt8(seed)), size: 4_000, from: client) }  // evicts 1
        let statistics = harness.statistics
        #expect(statistics.spillFailures == 1 && statistics.restoreFailures == 0)
        #expect(statistics.evictedObjects == 1 && statistics.spilledObjects == 0)
        #expect(!harness.contains(testID(1), from: client))
        #expect(harness.create(testID(1), data: 1, from: client)?.status == .ok, "the id is free again")
        harness.expectConsistent()
    }

    @Test func aLostRestoreIsCountedAndTheObjectDeleted() {
        let store = FlakyExternalStore()
        store.loseOnTake = [testID(1)]
        let harness = EngineHarness(capacity: 10_000, spillSink: store)
        let client = harness.connect()
        for seed in 1...4 { harness.put(testID(UInt8(seed)), size: 4_000, from: client) }  // spills 1 and 2
        #expect(harness.statistics.spilledObjects == 2)
        guard case .objects(let found) = harness.get([testID(1), testID(2)], from: client) else {
            Issue.record("get did not answer")
            return
        }
        #expect(found[0] == nil && found[1] != nil)
        let statistics = harness.statistics
        #expect(statistics.restoreFailures == 1 && statistics.restoredObjects == 1 && statistics.spillFailures == 0)
        #expect(statistics.deletedObjects == 1, "dropped from the books as a delete")
        #expect(!harness.contains(testID(1), from: client))
        harness.expectConsistent()
    }
}
