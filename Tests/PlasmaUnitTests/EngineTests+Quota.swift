@testable import PlasmaEngine
@testable import PlasmaStore
import PlasmaCore
import PlasmaTestSupport
import PlasmaWire
import Testing

/// `--client-quota` (StoreEngine+Quota.swift): a native client's unsealed objects and the objects it
/// holds references on count against its quota; creates past it fail with `limitReached`.
@Suite struct ClientQuotaTests {
    func harness(quota: Int, capacity: Int = 10_000) -> EngineHarness {
        EngineHarness(capacity: capacity) { $0.clientQuota = quota }
    }

    func pinned(_ harness: EngineHarness, _ client: ClientID) -> Int? { harness.engine.clients[client]?.pinnedBytes }

    @Test func aCreatePastTheQuotaFailsSayingQuotaAndTheNumbersAndChangesNothing() {
        let harness = harness(quota: 1000)
        let client = harness.connect()
        let other = harness.connect()
        harness.put(testID(9), size: 100, from: other)  // evictable: a refused create must not evict it
        #expect(harness.create(testID(1), data: 500, metadata: 100, from: client)?.status == .ok)
        #expect(pinned(harness, client) == 600)
        let before = harness.statistics

        let refused = harness.create(testID(2), data: 401, from: client)
        guard case .failure(.limitReached, let message)? = refused else {
            Issue.record("expected limitReached, got \(String(describing: refused))")
            return
        }
        #expect(message.contains("client quota exceeded: 401 bytes requested, 600 of the 1000-byte quota in use"), "\(message)")
        #expect(harness.createAndSeal(testID(3), data: [UInt8](repeating: 1, count: 401), from: client)?.status == .limitReached)
        #expect(harness.create(testID(4), data: 401, timeout: -1, from: client)?.status == .limitReached, "refused at once, not parked")
        #expect(harness.send(.createAndSealBatch([
            InlineObject(id: testID(5), data: [UInt8](repeating: 1, count: 401)),
            InlineObject(id: testID(6), data: [UInt8](repeating: 1, count: 400)),
        ]), from: client) == .statuses([.limitReached, .ok]), "each item is checked; an inline object pins nothing after")
        #expect(pinned(harness, client) == 600)
        for id in [testID(2), testID(3), testID(4), testID(5)] { #expect(!harness.contains(id, from: client)) }
        let after = harness.statistics
        #expect(after.evictedObjects == before.evictedObjects && after.pendingCreates == 0)
        #expect(harness.create(testID(7), data: 400, from: client)?.status == .ok, "exactly the quota fits")
        #expect(harness.create(testID(8), data: 0, from: client)?.status == .ok, "zero bytes always fit")
        #expect(harness.create(testID(10), data: 1000, from: other)?.status == .ok, "the quota is per client")
        harness.expectConsistent()
    }

    @Test func sealKeepsTheChargeWhileTheCreatorHoldsItsReferenceAndReleaseEndsIt() {
        let harness = harness(quota: 1000)
        let client = harness.connect()
        harness.putHeld(testID(1), size: 700, from: client)
        #expect(pinned(harness, client) == 700, "a sealed object its creator still references is pinned")
        #expect(harness.create(testID(2), data: 301, from: client)?.status == .limitReached)
        #expect(harness.release([testID(1)], from: client) == .statuses([.ok]))
        #expect(pinned(harness, client) == 0)
        // Released before sealing: still pinned while unsealed, not after the seal.
        #expect(harness.create(testID(3), data: 900, from: client)?.status == .ok)
        #expect(harness.release([testID(3)], from: client) == .statuses([.ok]))
        #expect(pinned(harness, client) == 900)
        #expect(harness.seal(testID(3), from: client) == .done)
        #expect(pinned(harness, client) == 0)
        #expect(harness.create(testID(4), data: 1000, from: client)?.status == .ok)
        harness.expectConsistent()
    }

    @Test func abortGivesTheChargeBack() {
        let harness = harness(quota: 1000)
        let client = harness.connect()
        #expect(harness.create(testID(1), data: 1000, from: client)?.status == .ok)
        #expect(harness.create(testID(2), data: 1, from: client)?.status == .limitReached)
        #expect(harness.abort(testID(1), from: client) == .done)
        #expect(pinned(harness, client) == 0)
        #expect(harness.create(testID(2), data: 1000, from: client)?.status == .ok)
        harness.expectConsistent()
    }

    @Test func referencesFromGetsCountOncePerObjectAndGetsAreNeverRefused() {
        let harness = harness(quota: 1000)
        let reader = harness.connect()
        let writer = harness.connect()
        harness.put(testID(1), size: 600, from: writer)
        harness.put(testID(2), size: 600, from: writer)
        #expect(harness.get([testID(1), testID(1)], from: reader)?.status == .ok)
        #expect(harness.get([testID(1)], from: reader)?.status == .ok)
        #expect(pinned(harness, reader) == 600, "three references, one object")
        #expect(harness.get([testID(2)], from: reader)?.status == .ok, "a get over the quota is served")
        #expect(pinned(harness, reader) == 1200)
        #expect(harness.createAndSeal(testID(3), data: [0], from: reader)?.status == .limitReached)
        #expect(harness.release([testID(1), testID(1)], from: reader) == .statuses([.ok, .ok]))
        #expect(pinned(harness, reader) == 1200, "one reference left")
        #expect(harness.release([testID(1)], from: reader) == .statuses([.ok]))
        #expect(pinned(harness, reader) == 600)
        #expect(harness.createAndSeal(testID(3), data: [UInt8](repeating: 0, count: 400), from: reader) == .done)
        #expect(pinned(harness, writer) == 0, "the writer holds nothing")
        harness.expectConsistent()
    }

    @Test func aWaitingGetChargesWhenTheObjectIsSealedAndCancelGivesItBack() {
        let harness = harness(quota: 1000)
        let reader = harness.connect()
        let writer = harness.connect()
        let getID = harness.freshRequestID()
        #expect(harness.get([testID(1), testID(2)], timeout: -1, from: reader, requestID: getID) == nil)
        harness.put(testID(1), size: 300, from: writer)
        #expect(pinned(harness, reader) == 300, "the sealed one is held for the waiting get")
        #expect(harness.send(.cancel(requestID: getID), from: reader) == .done)
        #expect(pinned(harness, reader) == 0)
        harness.expectConsistent()
    }

    @Test func deferredDeleteKeepsTheChargeUntilReleaseAndEvictionNeverTouchesCharges() {
        let harness = harness(quota: 1000, capacity: 1500)
        let client = harness.connect()
        let other = harness.connect()
        harness.putHeld(testID(1), size: 800, from: client)
        #expect(harness.delete([testID(1)], from: other) == .statuses([.deletionDeferred]))
        #expect(pinned(harness, client) == 800)
        #expect(harness.release([testID(1)], from: client) == .statuses([.ok]))
        #expect(pinned(harness, client) == 0)
        #expect(!harness.contains(testID(1), from: client))

        harness.putHeld(testID(2), size: 500, from: client)
        harness.put(testID(3), size: 500, from: client)
        #expect(pinned(harness, client) == 500)
        // Another client's create evicts testID(3), which nobody pins.
        #expect(harness.create(testID(4), data: 1000, from: other)?.status == .ok)
        #expect(!harness.contains(testID(3), from: client))
        #expect(harness.statistics.evictedObjects == 1)
        #expect(pinned(harness, client) == 500)
        #expect(pinned(harness, other) == 1000)
        harness.expectConsistent()
    }

    @Test func disconnectDropsTheClientsChargesAndLeavesOthersAlone() {
        let harness = harness(quota: 1000)
        let leaving = harness.connect()
        let staying = harness.connect()
        harness.putHeld(testID(1), size: 300, from: staying)
        #expect(harness.get([testID(1)], from: leaving)?.status == .ok)
        #expect(harness.create(testID(2), data: 400, from: leaving)?.status == .ok)
        #expect(pinned(harness, leaving) == 700)
        harness.engine.disconnect(leaving)
        #expect(pinned(harness, leaving) == nil)
        #expect(pinned(harness, staying) == 300)
        #expect(!harness.contains(testID(2), from: staying), "its unsealed object was aborted")
        harness.expectConsistent()
    }

    @Test func aWaitingCreateIsCheckedAgainWhenSpaceFrees() {
        let harness = harness(quota: 1000, capacity: 1000)
        let client = harness.connect()
        let holder = harness.connect()
        harness.putHeld(testID(1), size: 1000, from: holder)
        let firstID = harness.freshRequestID()
        let secondID = harness.freshRequestID()
        #expect(harness.create(testID(2), data: 600, timeout: -1, from: client, requestID: firstID) == nil)
        #expect(harness.create(testID(3), data: 600, timeout: -1, from: client, requestID: secondID) == nil,
                "each fits the quota alone")
        #expect(harness.release([testID(1)], from: holder) == .statuses([.ok]))
        #expect(harness.replies(to: firstID, of: client).map(\.status) == [.ok])
        #expect(harness.replies(to: secondID, of: client).map(\.status) == [.limitReached],
                "after the first, the second would pass the quota")
        #expect(pinned(harness, client) == 600)
        #expect(harness.statistics.pendingCreates == 0)
        harness.expectConsistent()
    }

    @Test func arrowClientsAreNotBoundByTheNativeQuota() {
        let harness = harness(quota: 100)
        let arrow = harness.arrowClient()
        guard case .create(_, _, .ok, _, _) = harness.arrowSend(
            .create(id: testID(1), evictIfFull: true, dataSize: 500, metadataSize: 0, deviceNum: 0), from: arrow)
        else { Issue.record("an Arrow create was refused by the native quota"); return }
        #expect(pinned(harness, arrow) == 500, "still accounted, for the invariants")
        harness.expectConsistent()
    }

    @Test(arguments: [UInt64(11), 12, 13])
    func randomStreamChargesExactlyAndRefusesOnlyCreatesPastTheQuota(seed: UInt64) {
        let quota = 1500
        let harness = harness(quota: quota, capacity: 4000)
        var random = SeededRandom(seed: seed)
        let ids = (0..<24 as Range<UInt8>).map(testID)
        var clients = (0..<3).map { _ in harness.connect() }
        var refusals = 0
        for step in 0..<5000 {
            let slot = Int.random(in: 0..<clients.count, using: &random)
            let client = clients[slot]
            let id = ids.randomElement(using: &random)!
            let size = [0, 1, 100, 400, 700, 1200].randomElement(using: &random)!
            let before = pinned(harness, client)!
            var request: Request?
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<25: request = .create(id: id, dataSize: size, metadataSize: 0, timeoutMilliseconds: 0)
            case 25..<32: request = .createAndSeal(InlineObject(id: id, data: [UInt8](repeating: 1, count: size)), timeoutMilliseconds: 0)
            case 32..<47: request = .seal(id: id)
            case 47..<52: request = .abort(id: id)
            case 52..<67: request = .get(ids: [id, ids.randomElement(using: &random)!], timeoutMilliseconds: 0)
            case 67..<87: request = .release(ids: [id])
            case 87..<92: request = .delete(ids: [id])
            case 92..<96: request = .evict(bytes: size)
            default:
                harness.engine.disconnect(client)
                clients[slot] = harness.connect()
            }
            if let request, let reply = harness.send(request, from: client) {
                if case .create = request {
                    // Refused exactly when the object would pass the quota (and nothing else refused it first).
                    if reply.status == .limitReached { refusals += 1 }
                    if reply.status == .limitReached || reply.status == .ok {
                        #expect((reply.status == .limitReached) == (before + size > quota), "step \(step)")
                    }
                }
            }
            guard harness.engine.checkInvariants() else {
                Issue.record("invariants broken at step \(step) (seed \(seed))")
                return
            }
        }
        #expect(refusals > 20)
        for client in clients { harness.engine.disconnect(client) }
        harness.expectConsistent()
    }
}
