import Foundation
import PlasmaClient
import PlasmaCore
import Testing

extension IntegrationTests {
    /// A full store: LRU eviction order, out-of-memory when everything is referenced, waiting creates.
    @Suite struct FullStoreTests {
        static let quarter = 256 << 10

        /// Four sealed, unreferenced objects that fill a 1 MiB store exactly.
        func fill(_ client: PlasmaClient) throws -> [ObjectID] {
            let ids = (0..<4).map { _ in ObjectID.random() }
            for (index, id) in ids.enumerated() {
                try client.createAndSeal(id, data: pattern(size: Self.quarter, seed: index))
            }
            return ids
        }

        @Test func anObjectOfExactlyTheCapacityFitsAnEmptyStore() throws {
            let store = try StoreProcess(memory: "1000000")
            let client = try store.connect()
            #expect(client.capacity == 1_000_000)
            let object = try client.create(.random(), dataSize: 999_000, metadata: [UInt8](repeating: 1, count: 1000))
            let sealed = try object.seal()  // holds the creator's reference: nothing is evictable
            #expect(try client.statistics().bytesInUse == 1_000_000)
            #expect(throws: PlasmaClientError.self) { _ = try client.create(.random(), dataSize: 1) }
            withExtendedLifetime(sealed) {}
        }

        @Test func createEvictsTheLeastRecentlyReleasedObjectFirst() throws {
            let store = try StoreProcess(memory: "1M")
            let client = try store.connect()
            let ids = try fill(client)
            // Reading the oldest makes it the most recently released.
            try #require(try client.get(ids[0], timeout: .no)).release()

            let newcomer = ObjectID.random()
            try client.createAndSeal(newcomer, data: pattern(size: Self.quarter, seed: 9))
            #expect(try client.contains(ids[1]) == false)
            for id in [ids[0], ids[2], ids[3], newcomer] { #expect(try client.contains(id)) }
            #expect(try client.statistics().evictedObjects == 1)
        }

        @Test func createFailsAtOnceWithoutEvictingWhenEverythingIsReferenced() throws {
            let store = try StoreProcess(memory: "1M")
            let client = try store.connect()
            let ids = try fill(client)
            let held = try client.get(ids, timeout: .no)
            #expect(held.allSatisfy { $0 != nil })

            let error = #expect(throws: PlasmaClientError.self) {
                try client.createAndSeal(.random(), data: [UInt8](repeating: 0, count: Self.quarter))
            }
            #expect(error?.status == .outOfMemory)
            #expect(try client.statistics().evictedObjects == 0)
            withExtendedLifetime(held) {}
        }

        @Test func aWaitingCreateSucceedsOnceSpaceFrees() throws {
            let store = try StoreProcess(memory: "1M")
            let client = try store.connect()
            let ids = try fill(client)
            let held = try client.get(ids, timeout: .no).map { try #require($0) }
            let id = ObjectID.random()

            let waiter = try store.connect()
            let created = BackgroundCall {
                let object = try waiter.create(id, dataSize: Self.quarter, waitForSpace: .forever)
                try object.seal().release()
            }
            #expect(try eventually { try client.statistics().pendingCreates == 1 })
            try held[2].release()
            try created.value()
            #expect(try client.contains(id))
            #expect(try client.contains(ids[2]) == false)
            #expect(try client.statistics().pendingCreates == 0)
        }

        @Test func aWaitingCreateTimesOutWithOutOfMemory() throws {
            let store = try StoreProcess(memory: "1M")
            let client = try store.connect()
            let held = try client.get(try fill(client), timeout: .no)
            // A lower bound only (the store must not answer before the timeout): load can't break it.
            let started = ContinuousClock.now
            let error = #expect(throws: PlasmaClientError.self) {
                _ = try client.create(.random(), dataSize: Self.quarter, waitForSpace: .timeout(.milliseconds(200)))
            }
            #expect(error?.status == .outOfMemory)
            #expect(started.duration(to: .now) >= .milliseconds(190))
            withExtendedLifetime(held) {}
        }

        @Test func deleteOfAReferencedObjectIsDeferredUntilTheLastRelease() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let id = ObjectID.random()
            try client.createAndSeal(id, data: [1, 2, 3])
            let buffer = try #require(try client.get(id, timeout: .no))
            #expect(try client.delete([id]) == [.deletionDeferred])
            #expect(try client.list().first?.deletePending == true)
            try buffer.release()
            #expect(try client.list().isEmpty)
            #expect(try client.delete([id]) == [.objectNotFound])
        }
    }
}
