@testable import PlasmaStore
import PlasmaCore
import PlasmaWire
import Testing

/// Arrow's store semantics in the engine (StoreEngine+Arrow.swift, StoreEngine+External.swift).
@Suite struct ArrowEngineTests {
    static let digest: [UInt8] = [8, 7, 6, 5, 4, 3, 2, 1]

    func arrowClient(_ harness: EngineHarness) -> ClientID {
        let client = harness.connect()
        harness.engine.adoptArrowDialect(client)
        return client
    }

    func arrowPut(_ harness: EngineHarness, _ id: ObjectID, size: Int, from client: ClientID) {
        #expect(harness.engine.arrowCreateAndSeal(
            id: id, data: [UInt8](repeating: 1, count: size), metadata: [], digest: Self.digest, evictIfFull: true,
            client: client) == .ok)
    }

    @Test func anArrowClientHoldsOneReferencePerObjectHoweverOftenItGets() {
        let harness = EngineHarness(capacity: 1 << 16)
        let arrow = arrowClient(harness)
        let native = harness.connect()
        harness.put(testID(1), size: 10, from: native)
        harness.get([testID(1), testID(1)], from: arrow)
        harness.get([testID(1)], from: arrow)
        harness.get([testID(1), testID(1)], from: native)
        #expect(harness.info(testID(1), from: native)?.referenceCount == 3, "arrow: 1, native: 2")
        #expect(harness.engine.release(testID(1), by: arrow) == .ok)
        #expect(harness.engine.release(testID(1), by: arrow) == .notHeld)
        harness.expectConsistent()
    }

    @Test func createPressureEvictsAtLeastAFifthOfTheCapacityAndKeepsItEvictedOnFailure() {
        let harness = EngineHarness(capacity: 100_000)
        let arrow = arrowClient(harness)
        for seed in 1...10 { arrowPut(harness, testID(UInt8(seed)), size: 9_000, from: arrow) }
        // 90 000 used; 15 000 more: 5 000 short, but at least 20 000 go (three objects).
        guard case .created = harness.engine.arrowCreate(
            id: testID(50), dataSize: 15_000, metadataSize: 0, evictIfFull: true, deviceNum: 0, client: arrow)
        else { Issue.record("create failed"); return }
        #expect((1...10).filter { harness.engine.arrowContains(testID(UInt8($0))) } == Array(4...10))
        // Too large for what is evictable: Arrow evicts what it chose anyway, then fails.
        let _ = harness.engine.arrowSeal(testID(50), digest: Self.digest, by: arrow)
        guard case .failed(.outOfMemory) = harness.engine.arrowCreate(
            id: testID(51), dataSize: 99_000, metadataSize: 0, evictIfFull: true, deviceNum: 0, client: arrow)
        else { Issue.record("an impossible create succeeded"); return }
        #expect(!harness.engine.arrowContains(testID(4)))
        // device_num != 0 (CUDA) is OutOfMemory, as in the CUDA-less wheels.
        guard case .failed(.outOfMemory) = harness.engine.arrowCreate(
            id: testID(52), dataSize: 1, metadataSize: 0, evictIfFull: true, deviceNum: 1, client: arrow)
        else { Issue.record("a CUDA create succeeded"); return }
        harness.expectConsistent()
    }

    @Test func anObjectOfExactlyTheCapacityFits() {
        let harness = EngineHarness(capacity: 10_000)
        let arrow = arrowClient(harness)
        arrowPut(harness, testID(1), size: 4_000, from: arrow)
        arrowPut(harness, testID(2), size: 10_000, from: arrow)
        #expect(!harness.engine.arrowContains(testID(1)) && harness.engine.arrowContains(testID(2)))
        harness.expectConsistent()
    }

    @Test func sealDigestIsListedAndNativeObjectsShowEightZeroBytes() {
        let harness = EngineHarness(capacity: 1 << 16)
        let arrow = arrowClient(harness)
        let native = harness.connect()
        arrowPut(harness, testID(1), size: 3, from: arrow)
        harness.put(testID(2), size: 3, from: native)
        _ = harness.engine.arrowCreate(id: testID(3), dataSize: 1, metadataSize: 0, evictIfFull: true, deviceNum: 0, client: arrow)
        let listed = Dictionary(uniqueKeysWithValues: harness.engine.arrowList().map { ($0.objectID, $0) })
        #expect(listed[testID(1)]?.digest == Self.digest)
        #expect(listed[testID(2)]?.digest == [UInt8](repeating: 0, count: 8))
        #expect(listed[testID(3)]?.digest == [] && listed[testID(3)]?.constructDuration == -1, "unsealed: no digest")
    }

    @Test func deleteOfAnUnsealedOrReferencedObjectHappensWhenItsLastReferenceGoes() {
        let harness = EngineHarness(capacity: 1 << 16)
        let arrow = arrowClient(harness)
        _ = harness.engine.arrowCreate(id: testID(1), dataSize: 5, metadataSize: 0, evictIfFull: true, deviceNum: 0, client: arrow)
        #expect(harness.engine.arrowDelete([testID(1), testID(9)]) == [.objectNotSealed, .objectNotFound])
        #expect(harness.engine.arrowSeal(testID(1), digest: Self.digest, by: arrow) == .ok)
        #expect(harness.engine.arrowContains(testID(1)))
        #expect(harness.engine.release(testID(1), by: arrow) == .ok)
        #expect(!harness.engine.arrowContains(testID(1)), "deleted with its last reference")
        harness.expectConsistent()
    }

    // Found while adding quotas: the object was linked into the LRU list with its delete pending, and
    // `checkInvariants` failed.
    @Test func anUnreferencedObjectWhoseDeleteWaitsForItsSealIsDeletedAtTheSeal() {
        let harness = EngineHarness(capacity: 1 << 16)
        let arrow = arrowClient(harness)
        _ = harness.engine.arrowCreate(id: testID(1), dataSize: 5, metadataSize: 0, evictIfFull: true, deviceNum: 0, client: arrow)
        #expect(harness.engine.release(testID(1), by: arrow) == .ok)
        #expect(harness.engine.arrowDelete([testID(1)]) == [.objectNotSealed])
        #expect(harness.engine.arrowSeal(testID(1), digest: Self.digest, by: arrow) == .ok)
        #expect(!harness.engine.arrowContains(testID(1)))
        #expect(harness.statistics.bytesInUse == 0)
        harness.expectConsistent()
    }

    @Test func refreshMakesAnObjectTheMostRecentlyUsed() {
        let harness = EngineHarness(capacity: 1 << 16)
        let arrow = arrowClient(harness)
        for seed in 1...3 { arrowPut(harness, testID(UInt8(seed)), size: 100, from: arrow) }
        harness.engine.arrowRefreshLRU([testID(1), testID(99)])
        #expect(harness.engine.evict(atLeast: 150).bytes == 200)
        #expect(harness.engine.arrowContains(testID(1)) && !harness.engine.arrowContains(testID(2)))
    }

    @Test func quotasAreGrantedOnceAndLeaveThirtyPercentToEveryoneElse() {
        let harness = EngineHarness(capacity: 100_000)
        let first = arrowClient(harness)
        let second = arrowClient(harness)
        #expect(harness.engine.arrowSetOptions(name: "a", quota: 50_000, client: first) == .ok)
        #expect(harness.engine.arrowSetOptions(name: "a", quota: 1, client: first) == .outOfMemory)
        #expect(harness.engine.arrowSetOptions(name: "b", quota: 20_001, client: second) == .outOfMemory)
        #expect(harness.engine.arrowSetOptions(name: "b", quota: 20_000, client: second) == .ok)
        // Over its quota a client's own oldest unreferenced objects make room; larger than it fails.
        for seed in 1...4 { arrowPut(harness, testID(UInt8(seed)), size: 15_000, from: first) }
        #expect(!harness.engine.arrowContains(testID(1)) && harness.engine.arrowContains(testID(4)))
        guard case .failed(.outOfMemory) = harness.engine.arrowCreate(
            id: testID(9), dataSize: 50_001, metadataSize: 0, evictIfFull: true, deviceNum: 0, client: first)
        else { Issue.record("a create over the quota succeeded"); return }
        harness.engine.disconnect(first)
        #expect(harness.engine.arrowSetOptions(name: "c", quota: 50_000, client: arrowClient(harness)) == .ok,
                "a departed client's quota returns to the pool")
        harness.expectConsistent()
    }

    @Test func evictionToAnExternalStoreKeepsObjectsAndGetsRestoreThem() {
        let harness = EngineHarness(capacity: 10_000)
        harness.engine.attachExternalStore(HashtableExternalStore())
        let native = harness.connect()
        for seed in 1...5 {
            #expect(harness.createAndSeal(testID(UInt8(seed)), data: [UInt8](repeating: UInt8(seed), count: 4_000),
                                          from: native) == .done)
        }
        #expect(harness.statistics.spilledObjects == 3)
        #expect((1...5).allSatisfy { harness.contains(testID(UInt8($0)), from: native) })
        #expect(harness.list(from: native).count == 5)
        #expect(harness.create(testID(1), data: 1, from: native)?.status == .objectExists)
        guard case .objects(let found) = harness.get([testID(1), testID(2)], from: native) else {
            Issue.record("get did not answer")
            return
        }
        for (index, location) in found.enumerated() {
            let location = try! #require(location)
            #expect(harness.memory[location.offset] == UInt8(index + 1) && location.dataSize == 4_000)
        }
        #expect(harness.statistics.restoredObjects == 2)
        #expect(harness.delete([testID(5)], from: native) == .statuses([.ok]))
        #expect(!harness.contains(testID(5), from: native))
        harness.expectConsistent()
    }
}
