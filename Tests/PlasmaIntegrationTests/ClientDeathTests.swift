import Foundation
import PlasmaClient
import PlasmaCore
import Testing

extension IntegrationTests {
    /// `kill -9` of a client at each step: the store undoes what the client left behind.
    @Suite struct ClientDeathTests {
        @Test func killedCreatorsUnsealedObjectIsAbortedAndItsIdCanBeCreatedAgain() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let id = ObjectID.random()
            let creator = try PeerProcess(["create-hold", store.socketPath, id.hex, "65536"])
            #expect(creator.nextLine() == "created")
            #expect(try client.list().first { $0.id == id }?.state == .created)

            creator.kill9()
            #expect(try eventually { try client.list().isEmpty })
            let statistics = try client.statistics()
            #expect(statistics.bytesInUse == 0 && statistics.createdObjects == 0)
            let again = try client.create(id, dataSize: 65536)
            try again.seal()
            #expect(try client.contains(id))
        }

        @Test func killedReadersReferencesAreReleasedAndTheObjectBecomesEvictable() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let id = ObjectID.random()
            try client.createAndSeal(id, data: pattern(size: 1000, seed: 3))
            let reader = try PeerProcess(["get-hold", store.socketPath, id.hex])
            #expect(reader.nextLine() == "waiting")
            #expect(reader.nextLine() == "held")
            #expect(try client.list().first { $0.id == id }?.referenceCount == 1)
            #expect(try client.evict(1000).objects == 0)

            reader.kill9()
            #expect(try eventually { try client.statistics().evictableObjects == 1 })
            #expect(try client.evict(1000) == (bytes: 1000, objects: 1))
            #expect(try client.contains(id) == false)
        }

        @Test func clientKilledWhileWaitingInGetLeavesNoWaitBehind() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let id = ObjectID.random()
            let waiter = try PeerProcess(["get-hold", store.socketPath, id.hex])
            #expect(waiter.nextLine() == "waiting")
            #expect(try eventually { try client.statistics().pendingGets == 1 })
            waiter.kill9()
            #expect(try eventually { try client.statistics().pendingGets == 0 })
            try client.createAndSeal(id, data: [1])
            #expect(try client.list().first { $0.id == id }?.referenceCount == 0)
            #expect(try client.statistics().clients == 1)
        }
    }
}
