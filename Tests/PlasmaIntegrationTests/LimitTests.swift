import Foundation
import PlasmaClient
import PlasmaCore
import PlasmaWire
import Testing

extension IntegrationTests {
    /// The per-request and per-client limits of docs/SECURITY.md, against the real daemon: each one
    /// answers with a reason, and nobody else notices.
    @Suite struct LimitTests {
        static let maxItems = WireLimits().maxItems

        @Test func aRequestWithMoreIDsThanTheLimitIsDisconnectedWithTheReason() throws {
            let store = try StoreProcess()
            let bystander = try store.connect()
            let raw = try RawConnection(path: store.socketPath)
            let ids = (0..<Self.maxItems).map { _ in ObjectID.random() }
            guard case .objects(let found) = try raw.call(.get(ids: ids, timeoutMilliseconds: 0)) else {
                Issue.record("a get of exactly the limit was not answered")
                return
            }
            #expect(found.count == Self.maxItems)

            try raw.send(.get(ids: ids + [.random()], timeoutMilliseconds: 0))
            guard case .reply(.failure(.invalidRequest, let message)) = try raw.readFrame() else {
                Issue.record("expected a final invalidRequest frame")
                return
            }
            #expect(message.contains("\(Self.maxItems + 1) items in one request exceeds the limit of \(Self.maxItems)"), "\(message)")
            #expect(throws: (any Error).self) { try raw.readFrame() }
            #expect(store.waitForLog("malformed request"))
            #expect(try bystander.contains(.random()) == false)
            #expect(try eventually { try bystander.statistics().clients == 1 })
        }

        @Test func waitingGetsPerClientAreCappedAndTheConnectionLives() throws {
            let store = try StoreProcess()
            let other = try store.connect()
            let raw = try RawConnection(path: store.socketPath)
            let limit = 1 << 16  // StoreEngine.Configuration.maxWaitingGetsPerClient
            try raw.sendAll((0..<limit).map { _ in .get(ids: [.random()], timeoutMilliseconds: -1) })
            let refused = try raw.call(.get(ids: [.random()], timeoutMilliseconds: -1))
            guard case .failure(.limitReached, let message) = refused else {
                Issue.record("expected limitReached, got \(refused)")
                return
            }
            #expect(message.contains("\(limit) gets already waiting"), "\(message)")
            #expect(try raw.call(.contains(id: .random())) == .contains(false), "still served")
            #expect(try other.statistics().pendingGets == Int64(limit))
            // Another client's waits are its own.
            let id = ObjectID.random()
            let waiter = BackgroundCall { try other.get(id, timeout: .timeout(.seconds(10)))?.count }
            #expect(try eventually { try store.connect().statistics().pendingGets == Int64(limit + 1) })
            try store.connect().createAndSeal(id, data: [1, 2, 3])
            #expect(try waiter.value() == 3)
            withExtendedLifetime(raw) {}
        }

        @Test func waitingCreatesPerClientAreCappedAndTheConnectionLives() throws {
            let store = try StoreProcess(memory: "1M")
            let (holder, held) = try store.fillWithHeldQuarters()  // nothing evictable: creates wait
            let (quarter, ids) = (256 << 10, held.map { $0!.id })
            let raw = try RawConnection(path: store.socketPath)
            let limit = 1 << 10  // StoreEngine.Configuration.maxWaitingCreatesPerClient
            try raw.sendAll((0..<limit).map { _ in
                .create(id: .random(), dataSize: quarter, metadataSize: 0, timeoutMilliseconds: -1)
            })
            let refused = try raw.call(.create(id: .random(), dataSize: quarter, metadataSize: 0, timeoutMilliseconds: -1))
            guard case .failure(.limitReached, let message) = refused else {
                Issue.record("expected limitReached, got \(refused)")
                return
            }
            #expect(message.contains("\(limit) creates already waiting for space"), "\(message)")
            #expect(try raw.call(.contains(id: ids[0])) == .contains(true), "still served")
            #expect(try holder.statistics().pendingCreates == Int64(limit))
            withExtendedLifetime(held) {}
        }

        @Test func aClientCannotSealAbortOrReleaseAnotherClientsObjects() throws {
            let store = try StoreProcess()
            let owner = try store.connect()
            let sealed = ObjectID.random()
            try owner.createAndSeal(sealed, data: [1, 2, 3])
            let reading = try #require(try owner.get(sealed, timeout: .no))
            let unsealed = try owner.create(.random(), dataSize: 8)

            let intruder = try RawConnection(path: store.socketPath)
            #expect(try intruder.call(.seal(id: unsealed.id)).status == .notCreator)
            #expect(try intruder.call(.abort(id: unsealed.id)).status == .notCreator)
            #expect(try intruder.call(.release(ids: [unsealed.id, sealed])) == .statuses([.notHeld, .notHeld]))
            // The owner's books are untouched: its references stand and its object is still its own.
            let rows = Dictionary(uniqueKeysWithValues: try owner.list().map { ($0.id, $0) })
            #expect(rows[sealed]?.referenceCount == 1)
            #expect(rows[unsealed.id]?.referenceCount == 1)
            #expect(rows[unsealed.id]?.state == .created)
            let unsealedID = unsealed.id
            let nowSealed = try unsealed.seal()  // the creator's reference moves to this buffer
            try reading.release()
            #expect(try owner.list().allSatisfy { $0.referenceCount == (($0.id == unsealedID) ? 1 : 0) })
            withExtendedLifetime(nowSealed) {}
        }

        @Test func clientQuotaRefusesCreatesPastItAndReleaseMakesRoom() throws {
            let store = try StoreProcess(memory: "4M", arguments: ["--client-quota", "1M"])
            #expect(store.log.contains("client quota 1.0 MiB"))
            let client = try store.connect()
            let other = try store.connect()
            let first = try client.create(.random(), dataSize: 768 << 10)

            let error = #expect(throws: PlasmaClientError.self) { _ = try client.create(.random(), dataSize: 512 << 10) }
            #expect(error?.status == .limitReached)
            let text = "\(String(describing: error))"
            #expect(text.contains("client quota exceeded: 524288 bytes requested, 786432 of the 1048576-byte quota in use"), "\(text)")
            #expect(try client.statistics().createdObjects == 1, "the refused create left nothing behind")

            // Another client has its own quota, and holding its object counts against this one.
            let big = ObjectID.random()
            try other.createAndSeal(big, data: [UInt8](repeating: 2, count: 1 << 20))
            try first.seal().release()
            let held = try #require(try client.get(big, timeout: .no))
            #expect(try client.createAndSeal(batch: [InlineObject(id: .random(), data: [1])]) == [.limitReached])
            try held.release()
            try client.createAndSeal(.random(), data: [UInt8](repeating: 3, count: 1 << 20))

            // A client's charges leave with it.
            _ = try other.create(.random(), dataSize: 1 << 20)
            other.close()
            #expect(try eventually { try client.statistics().clients == 1 && client.statistics().createdObjects == 0 })
        }
    }
}
