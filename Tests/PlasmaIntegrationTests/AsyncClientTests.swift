import Foundation
import PlasmaClient
import PlasmaCore
import Synchronization
import Testing

extension IntegrationTests {
    /// The task layer: awaits that another process's seal resumes, with timeouts, cancellation and many
    /// awaits on one connection.
    @Suite struct AsyncClientTests {
        @Test func getSuspendsUntilAnotherProcessSeals() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let observer = try store.connect()
            let id = ObjectID.random()
            let getting = Task { try await client.get(id) }
            // The get waits in the store before the object exists; only then does the writer start.
            #expect(try await eventually { try observer.statistics().pendingGets == 1 })
            let writer = try PeerProcess(["put", store.socketPath, id.hex, "5000", "4"])
            let buffer = try #require(try await getting.value)
            #expect(checksum(buffer.copyBytes()) == checksum(pattern(size: 5000, seed: 4)))
            #expect(writer.nextLine() == "sealed")
        }

        @Test func getReturnsNilWhenTheTimeoutPassesAndLeavesNoWaitBehind() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let observer = try store.connect()
            let id = ObjectID.random()
            #expect(try await client.get(id, timeout: .milliseconds(150)) == nil)
            #expect(try await client.get(id, timeout: .no) == nil)
            #expect(try observer.statistics().pendingGets == 0)
        }

        @Test func getOfManyGathersInRequestOrder() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let observer = try store.connect()
            let ids = (0..<3).map { _ in ObjectID.random() }
            let getting = Task { try await client.get(ids) }
            #expect(try await eventually { try observer.statistics().pendingGets == 1 })
            // Sealed in reverse order by three processes, one after another.
            for index in ids.indices.reversed() {
                let writer = try PeerProcess(["put", store.socketPath, ids[index].hex, "\(100 + index)", "\(index)"])
                #expect(writer.nextLine() == "sealed")
            }
            let buffers = try await getting.value
            #expect(buffers.map { $0?.id } == ids)
            #expect(buffers.map { $0?.count } == [100, 101, 102])
        }

        @Test func sealedYieldsEachObjectInSealOrder() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let observer = try store.connect()
            let ids = (0..<3).map { _ in ObjectID.random() }
            let consumer = Task {
                var order: [ObjectID] = []
                for try await buffer in client.sealed(ids) { order.append(buffer.id) }
                return order
            }
            // All three waits are in the store before anything is sealed; then seal in the order 1, 2, 0,
            // back to back: the three replies arrive together, and nothing on the way may reorder them.
            #expect(try await eventually { try observer.statistics().pendingGets == 3 })
            #expect(try observer.createAndSeal(batch: [1, 2, 0].map { InlineObject(id: ids[$0], data: [UInt8($0)]) }) == [.ok, .ok, .ok])
            #expect(try await consumer.value == [ids[1], ids[2], ids[0]])
            #expect(try observer.statistics().pendingGets == 0)
        }

        @Test func sealedYieldsWhatIsAlreadySealedFirstThenEndsAtTheTimeout() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let observer = try store.connect()
            let ids = (0..<3).map { _ in ObjectID.random() }
            try observer.createAndSeal(ids[1], data: [1])
            var yielded: [ObjectID] = []
            for try await buffer in client.sealed(ids, timeout: .milliseconds(100)) { yielded.append(buffer.id) }
            #expect(yielded == [ids[1]])
            #expect(try await eventually { try observer.statistics().pendingGets == 0 })
            #expect(try await eventually { try observer.list().allSatisfy { $0.referenceCount == 0 } })
        }

        @Test func leavingTheSealedLoopWithdrawsTheRemainingWaits() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let observer = try store.connect()
            let ids = (0..<4).map { _ in ObjectID.random() }
            let consumer = Task { () -> ObjectID? in
                for try await buffer in client.sealed(ids) { return buffer.id }
                return nil
            }
            #expect(try await eventually { try observer.statistics().pendingGets == 4 })
            try observer.createAndSeal(ids[2], data: [2])
            #expect(try await consumer.value == ids[2])
            #expect(try await eventually { try observer.statistics().pendingGets == 0 })
            // Sealing the rest now gives this client nothing to hold.
            for index in [0, 1, 3] { try observer.createAndSeal(ids[index], data: [UInt8(index)]) }
            #expect(try await eventually { try observer.list().allSatisfy { $0.referenceCount == 0 } })
        }

        @Test func cancellingTheSealedLoopsTaskWithdrawsItsWaits() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let observer = try store.connect()
            let consumer = Task {
                for try await _ in client.sealed((0..<3).map { _ in ObjectID.random() }) {}
            }
            #expect(try await eventually { try observer.statistics().pendingGets == 3 })
            consumer.cancel()
            _ = await consumer.result
            #expect(try await eventually { try observer.statistics().pendingGets == 0 })
        }

        @Test func cancellingTheTaskWithdrawsTheStoreSideWait() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let observer = try store.connect()
            let before = try observer.statistics().pendingGets
            let waiting = Task { try await client.get(.random()) }
            #expect(try await eventually { try observer.statistics().pendingGets == before + 1 })
            waiting.cancel()
            await #expect(throws: PlasmaClientError.cancelled) { try await waiting.value }
            #expect(try await eventually { try observer.statistics().pendingGets == before })
        }

        @Test func cancellationRacingTheSealLeaksNoReference() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let observer = try store.connect()
            for _ in 0..<50 {
                let id = ObjectID.random()
                let waiting = Task { try await client.get(id) }
                try observer.createAndSeal(id, data: [1])
                waiting.cancel()
                _ = try? await waiting.value
            }
            // Whatever won each race, every reference comes back: nothing stays referenced.
            #expect(try await eventually { try observer.list().allSatisfy { $0.referenceCount == 0 } })
            #expect(try observer.statistics().pendingGets == 0)
        }

        @Test func tenThousandConcurrentAwaitsOnOneConnectionEachResumeOnce() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let observer = try store.connect()
            let ids = (0..<10_000).map { _ in ObjectID.random() }
            let list = URL(fileURLWithPath: store.socketPath + ".ids")
            try ids.map(\.hex).joined(separator: "\n").write(to: list, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: list) }
            let resumed = Counter()

            let received = try await withThrowingTaskGroup(of: ObjectID.self) { group in
                for id in ids {
                    group.addTask {
                        let buffer = try #require(try await client.get(id, timeout: .seconds(120)))
                        resumed.value.add(1, ordering: .relaxed)
                        return buffer.id
                    }
                }
                // Every wait is in the store before anything is sealed.
                #expect(try await eventually(timeout: 60) { try observer.statistics().pendingGets == 10_000 })
                let writer = try PeerProcess(["put-list", store.socketPath, list.path])
                var received: [ObjectID] = []
                for try await id in group { received.append(id) }
                #expect(writer.nextLine(timeout: 60) == "sealed 10000")
                return received
            }
            #expect(received.count == 10_000)
            #expect(Set(received) == Set(ids))
            #expect(resumed.value.load(ordering: .relaxed) == 10_000)
            #expect(try observer.statistics().pendingGets == 0)
        }

        @Test func shutdownResumesEveryPendingAwaitWithAnError() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let observer = try store.connect()
            let waiting = (0..<5).map { _ in Task { try await client.get(.random()) } }
            #expect(try await eventually { try observer.statistics().pendingGets == 5 })
            client.shutdown()
            for task in waiting {
                await #expect(throws: PlasmaClientError.self) { try await task.value }
            }
            #expect(try await eventually { try observer.statistics().pendingGets == 0 })
            await #expect(throws: PlasmaClientError.self) { try await client.contains(.random()) }
        }

        @Test func aStoreThatGoesAwayResumesAwaitsWithDisconnected() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let waiting = Task { try await client.get(.random()) }
            #expect(try await eventually { try store.connect().statistics().pendingGets == 1 })
            kill(store.process.processIdentifier, SIGKILL)
            do {
                _ = try await waiting.value
                Issue.record("the await returned although the store died")
            } catch let error as PlasmaClientError {
                if case .disconnected = error { return }
                Issue.record("expected disconnected, got \(error)")
            }
        }

        @Test func putWaitsForSpaceWhenAsked() async throws {
            let store = try StoreProcess(memory: "1M")
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let holder = try store.connect()
            let big = ObjectID.random()
            try holder.createAndSeal(big, data: [UInt8](repeating: 1, count: 700_000))
            let held = try #require(try holder.get(big, timeout: .no))
            let id = ObjectID.random()
            let putting = Task { try await client.put(id, bytes: [UInt8](repeating: 2, count: 600_000), waitForSpace: .forever) }
            #expect(try await eventually { try holder.statistics().pendingCreates == 1 })
            try held.release()
            try await putting.value
            #expect(try holder.contains(id))
            #expect(try holder.contains(big) == false)
            await #expect(throws: PlasmaClientError.self) {
                try await client.put(.random(), bytes: [UInt8](repeating: 3, count: 2_000_000))
            }
        }

        /// Ray's `as_future` example: four producers each seal one object; one consumer in another process
        /// awaits all four at once with a task group. All four waits are in the store together before any
        /// producer starts (awaited one after another, only one would be), and the consumer has every
        /// object once the last is sealed. (How long that takes is plasma-bench's business, not a test's.)
        @Test func oneConsumerAwaitsFourProducersAtOnce() throws {
            let store = try StoreProcess()
            let observer = try store.connect()
            let ids = (0..<4).map { _ in ObjectID.random() }
            let consumer = try PeerProcess(["await-all", store.socketPath] + ids.map(\.hex))
            #expect(try eventually(timeout: 30) { try observer.statistics().pendingGets == 4 })
            let producers = try ids.enumerated().map { index, id in
                try PeerProcess(["put", store.socketPath, id.hex, "1000", "\(index)"])
            }
            for producer in producers { #expect(producer.nextLine(timeout: 30) == "sealed") }
            #expect(consumer.nextLine(timeout: 30) == "done 4000")
            #expect(try observer.statistics().pendingGets == 0)
        }
    }

    /// A count that many tasks bump.
    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }
}
