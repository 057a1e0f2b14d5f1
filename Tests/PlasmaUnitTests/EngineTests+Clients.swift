import PlasmaCore
@testable import PlasmaEngine
@testable import PlasmaStore
import PlasmaTestSupport
import PlasmaWire
import Testing

/// Disconnects, batches, and a long random operation stream.
extension EngineTests {
    @Test func disconnectUndoesUnsealedObjectsReferencesAndWaitsOfTheClient() {
        let harness = EngineHarness(capacity: 2048)
        let leaving = harness.connect()
        let other = harness.connect()
        let (unsealed, sealedHeld, readHeld, filler) = (testID(1), testID(2), testID(3), testID(4))

        harness.put(readHeld, size: 512, from: other)
        #expect(harness.get([readHeld], from: leaving)?.status == .ok)
        #expect(harness.create(unsealed, data: 512, from: leaving)?.status == .ok)
        harness.putHeld(sealedHeld, size: 512, from: leaving)
        harness.putHeld(filler, size: 512, from: other)
        #expect(harness.statistics.bytesInUse == 2048)
        #expect(harness.statistics.evictableObjects == 0)

        // A waiting create and a waiting get of the leaving client, and a waiting create of another one.
        #expect(harness.create(testID(5), data: 1024, timeout: -1, from: leaving) == nil)
        #expect(harness.get([testID(6)], timeout: 5000, from: leaving) == nil)
        let otherCreateID = harness.freshRequestID()
        #expect(harness.create(testID(7), data: 512, timeout: -1, from: other, requestID: otherCreateID) == nil)
        #expect(harness.statistics.pendingGets == 1)
        #expect(harness.statistics.pendingCreates == 2)
        let repliesToLeavingBefore = harness.repliesReceived(by: leaving).count

        harness.engine.disconnect(leaving)

        let statistics = harness.statistics
        #expect(statistics.clients == 1)
        #expect(statistics.pendingGets == 0)
        #expect(statistics.pendingCreates == 0)
        #expect(harness.contains(unsealed, from: other) == false, "the unsealed object was aborted")
        #expect(harness.replies(to: otherCreateID, of: other).map(\.status) == [.ok],
                "the aborted object's space went to the waiting create of another client")
        #expect(statistics.evictableObjects == 2, "readHeld and sealedHeld are no longer referenced")
        #expect(statistics.evictableBytes == 1024)
        #expect(statistics.bytesInUse == 2048, "readHeld + sealedHeld + filler + testID(7)")
        #expect(harness.info(sealedHeld, from: other)?.referenceCount == 0)
        #expect(harness.info(readHeld, from: other)?.referenceCount == 0)
        harness.expectConsistent()

        // The leaving client's waits are gone: nothing is sent to it, and its ids are free.
        #expect(harness.createAndSeal(testID(6), data: [1], from: other) == .done, "evicts to make room; the dropped get hears nothing")
        harness.clock.advance(milliseconds: 10_000)
        harness.engine.fireDeadlines()
        #expect(harness.repliesReceived(by: leaving).count == repliesToLeavingBefore)
        #expect(harness.abort(testID(7), from: other) == .done)
        #expect(harness.create(unsealed, data: 512, from: other)?.status == .ok, "the aborted id can be created again")
        #expect(harness.send(.stats, from: leaving) == nil, "a disconnected client gets no answers")
        harness.engine.disconnect(leaving)  // twice is harmless
        harness.expectConsistent()
    }

    @Test func disconnectCompletesADeferredDeleteOfAnObjectOnlyTheClientHeld() {
        let harness = EngineHarness(capacity: 4096)
        let leaving = harness.connect()
        let other = harness.connect()
        harness.putHeld(testID(1), size: 100, from: leaving)
        #expect(harness.get([testID(1), testID(1)], from: leaving)?.status == .ok)
        #expect(harness.info(testID(1), from: other)?.referenceCount == 3)
        #expect(harness.delete([testID(1)], from: other) == .statuses([.deletionDeferred]))
        harness.engine.disconnect(leaving)
        #expect(harness.contains(testID(1), from: other) == false)
        #expect(harness.statistics.deletedObjects == 1)
        #expect(harness.statistics.bytesInUse == 0)
        harness.expectConsistent()
    }

    @Test func createAndSealBatchReportsAStatusPerItem() {
        let harness = EngineHarness(capacity: 4096)
        let client = harness.connect()
        let reader = harness.connect()
        harness.put(testID(9), size: 10, from: client)
        let batch = [
            InlineObject(id: testID(1), data: [1, 2, 3]),
            InlineObject(id: testID(2), data: [], metadata: [4]),
            InlineObject(id: testID(1), data: [9]),  // duplicate within the batch
            InlineObject(id: testID(9), data: [9]),  // exists from before
            InlineObject(id: testID(3), data: [UInt8](repeating: 0, count: 4097)),  // larger than the store
            InlineObject(id: testID(4), data: []),
        ]
        #expect(harness.send(.createAndSealBatch(batch), from: client)
                == .statuses([.ok, .ok, .objectExists, .objectExists, .tooLarge, .ok]))
        guard case .objects(let found) = harness.get([testID(1), testID(2), testID(3), testID(4)], from: reader)
        else {
            Issue.record("get failed")
            return
        }
        #expect(found.map { $0?.dataSize } == [3, 0, nil, 0])
        if let first = found[0] {
            #expect(Array(harness.memory[first.offset..<first.offset + 3]) == [1, 2, 3], "the first item won")
        }
        #expect(harness.send(.createAndSealBatch([]), from: client) == .statuses([]))
        #expect(harness.info(testID(1), from: client)?.referenceCount == 1, "only the reader's reference")
        harness.expectConsistent()
    }

    @Test func createAndSealBatchNeverWaitsAndEvictsForSpace() {
        let harness = EngineHarness(capacity: 2048)
        let client = harness.connect()
        harness.put(testID(1), size: 1024, from: client)
        harness.putHeld(testID(2), size: 1024, from: client)
        #expect(harness.send(.createAndSealBatch([
            InlineObject(id: testID(3), data: [UInt8](repeating: 7, count: 1024)),  // evicts testID(1)
            InlineObject(id: testID(4), data: [UInt8](repeating: 8, count: 2048)),  // can't fit even by evicting
        ]), from: client) == .statuses([.ok, .outOfMemory]))
        #expect(harness.statistics.pendingCreates == 0)
        #expect(harness.contains(testID(1), from: client) == false)
        #expect(harness.contains(testID(3), from: client), "a hopeless item evicts nothing")
        #expect(harness.contains(testID(4), from: client) == false)
        harness.expectConsistent()
    }

    // MARK: Random operation stream

    @Test(arguments: [UInt64(1), 2, 3])
    func randomOperationStreamKeepsTheBooksBalanced(seed: UInt64) {
        let capacity = 8192
        let harness = EngineHarness(capacity: capacity)
        var random = SeededRandom(seed: seed)
        let ids = (0..<40 as Range<UInt8>).map(testID)
        var clients = (0..<4).map { _ in harness.connect() }
        // Requests each live client still expects exactly one answer to.
        var outstanding = Set<PendingRequest>()
        var answered = 0
        var replyCursor = 0
        var sawBrokenReply = false
        // Which id each create asked for, and what each client created, so that seals mostly hit.
        var createdIDs: [PendingRequest: ObjectID] = [:]
        var unsealedBy: [ClientID: [ObjectID]] = [:]

        func anyID() -> ObjectID { ids.randomElement(using: &random)! }
        func timeout() -> Int64 { [0, 0, 0, -1, 5, 30].randomElement(using: &random)! }
        func size() -> Int { [0, 1, 63, 64, 100, 500, 1000, 2500].randomElement(using: &random)! }

        for step in 0..<20_000 {
            let slot = Int.random(in: 0..<clients.count, using: &random)
            let client = clients[slot]
            let requestID = harness.freshRequestID()
            let request: Request?
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<20: request = .create(id: anyID(), dataSize: size(), metadataSize: Int.random(in: 0...8, using: &random),
                                           timeoutMilliseconds: timeout())
            case 20..<35:
                let mine = unsealedBy[client] ?? []
                request = .seal(id: mine.isEmpty || Int.random(in: 0..<4, using: &random) == 0
                                ? anyID() : mine.randomElement(using: &random)!)
            case 35..<39:
                let mine = unsealedBy[client] ?? []
                request = .abort(id: mine.isEmpty || Bool.random(using: &random) ? anyID() : mine.randomElement(using: &random)!)
            case 39..<44:
                request = .createAndSeal(InlineObject(id: anyID(), data: [UInt8](repeating: 1, count: size())),
                                         timeoutMilliseconds: timeout())
            case 44..<46:
                request = .createAndSealBatch((0..<Int.random(in: 0...3, using: &random)).map { _ in
                    InlineObject(id: anyID(), data: [UInt8](repeating: 2, count: size()))
                })
            case 46..<58: request = .get(ids: (0..<Int.random(in: 1...3, using: &random)).map { _ in anyID() },
                                         timeoutMilliseconds: timeout())
            case 58..<75: request = .release(ids: (0..<Int.random(in: 1...2, using: &random)).map { _ in anyID() })
            case 75..<80: request = .delete(ids: [anyID()])
            case 80..<83: request = .evict(bytes: Int.random(in: 0...3000, using: &random))
            case 83..<86: request = .contains(id: anyID())
            case 86..<87: request = .list
            case 87..<88: request = .stats
            case 88..<94:
                harness.clock.advance(milliseconds: Int64.random(in: 1...20, using: &random))
                harness.engine.fireDeadlines()
                request = nil
            case 94..<97:
                // Withdraw one of this client's unanswered requests, or an id that is long answered.
                let mine = outstanding.filter { $0.client == client }.map(\.requestID).sorted()
                request = .cancel(requestID: mine.randomElement(using: &random) ?? UInt64.random(in: 1...requestID, using: &random))
            default:
                // Disconnect and reconnect under a new client id.
                harness.engine.disconnect(client)
                outstanding = outstanding.filter { $0.client != client }
                unsealedBy[client] = nil
                clients[slot] = harness.connect()
                request = nil
            }
            if let request {
                if case .create(let id, _, _, _) = request { createdIDs[PendingRequest(client: client, requestID: requestID)] = id }
                if case .seal(let id) = request { unsealedBy[client]?.removeAll { $0 == id } }
                if case .abort(let id) = request { unsealedBy[client]?.removeAll { $0 == id } }
                outstanding.insert(PendingRequest(client: client, requestID: requestID))
                harness.native.handle(request, requestID: requestID, from: client)
            }

            // Every new reply answers an outstanding request of a live client, exactly once.
            for recorded in harness.replies[replyCursor...] {
                let key = PendingRequest(client: recorded.client, requestID: recorded.requestID)
                if outstanding.remove(key) == nil { sawBrokenReply = true }
                answered += 1
                if let id = createdIDs.removeValue(forKey: key), case .created = recorded.reply {
                    unsealedBy[recorded.client, default: []].append(id)
                }
                switch recorded.reply {
                case .created(let offset):
                    if offset % 64 != 0 || offset > capacity { sawBrokenReply = true }
                case .objects(let found):
                    for location in found.compactMap({ $0 })
                    where location.offset % 64 != 0 || location.offset + location.dataSize + location.metadataSize > harness.memory.count {
                        sawBrokenReply = true
                    }
                default: break
                }
            }
            replyCursor = harness.replies.count

            guard harness.engine.checkInvariants() else {
                Issue.record("invariants broken at step \(step) (seed \(seed))")
                return
            }
            let statistics = harness.statistics
            guard statistics.bytesInUse <= capacity, !sawBrokenReply else {
                Issue.record("bad state at step \(step) (seed \(seed)): \(statistics), broken reply: \(sawBrokenReply)")
                return
            }
            // What is outstanding is exactly what waits in the engine.
            guard statistics.pendingGets + statistics.pendingCreates == Int64(outstanding.count) else {
                Issue.record("step \(step): \(outstanding.count) unanswered but \(statistics.pendingGets) gets and \(statistics.pendingCreates) creates wait")
                return
            }
        }
        #expect(answered > 15_000)
        // The stream really exercised the paths it is meant to.
        let kinds = Dictionary(grouping: harness.replies, by: { "\($0.type)/\($0.reply.status)" }).mapValues(\.count)
        for kind in ["create/ok", "seal/ok", "get/ok", "get/cancelled", "create/outOfMemory", "delete/ok", "abort/ok"] {
            #expect(kinds[kind, default: 0] > 5, "\(kind): \(kinds[kind, default: 0])")
        }
        #expect(harness.statistics.evictedObjects > 100)
        #expect(harness.statistics.deletedObjects > 10)
        print("random stream seed \(seed): \(kinds.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")

        // Everyone leaves: nothing unsealed, nothing referenced, nothing waiting, everything evictable.
        for client in clients { harness.engine.disconnect(client) }
        let afterwards = harness.statistics
        #expect(afterwards.clients == 0)
        #expect(afterwards.createdObjects == 0)
        #expect(afterwards.pendingGets == 0 && afterwards.pendingCreates == 0)
        #expect(afterwards.evictableObjects == afterwards.sealedObjects)
        #expect(afterwards.evictableBytes == afterwards.bytesInUse)
        #expect(harness.engine.checkInvariants())

        let cleaner = harness.connect()
        #expect(harness.evict(bytes: Int.max, from: cleaner) == .evicted(
            bytes: Int(afterwards.evictableBytes), objects: Int(afterwards.evictableObjects)))
        #expect(harness.statistics.bytesInUse == 0)
        #expect(harness.statistics.arenaBytesAllocated == 0, "every block went back to the allocator")
        harness.expectConsistent()
    }
}

/// A client and one of its request ids.
private struct PendingRequest: Hashable {
    var client: ClientID
    var requestID: UInt64
}
