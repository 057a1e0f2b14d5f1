import Foundation
import PlasmaClient
import PlasmaCore
import PlasmaWire
import Testing

extension IntegrationTests {
    /// Filtered subscriptions: each client hears only about what it asked for, and a slow one can't
    /// make the store grow without bound.
    @Suite struct SubscriptionTests {
        /// The next event of a stream, or nil when it ends or `timeout` passes.
        func next(_ iterator: inout PlasmaStream<ObjectEvent>.AsyncIterator) async throws -> ObjectEvent? {
            try await iterator.next()
        }

        @Test func eventsForIdsReportSealDeleteEvictAndAbortOfThoseIdsOnly() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let producer = try store.connect()
            let (watched, other, evicted, aborted) = (ObjectID.random(), ObjectID.random(), ObjectID.random(), ObjectID.random())
            var events = client.events(for: [watched, evicted, aborted]).makeAsyncIterator()
            #expect(try await eventually { try producer.statistics().subscriptions == 1 })

            try producer.createAndSeal(other, data: [1])  // not watched: never delivered
            try producer.createAndSeal(watched, data: [1, 2, 3], metadata: [9])
            #expect(try await events.next() == .sealed(watched, dataSize: 3, metadataSize: 1))
            #expect(try producer.delete([watched]) == [.ok])
            #expect(try await events.next() == .deleted(watched))
            try producer.createAndSeal(evicted, data: [1])
            #expect(try await events.next() == .sealed(evicted, dataSize: 1, metadataSize: 0))
            #expect(try producer.evict(1_000_000).objects == 2)  // `other` and `evicted`
            #expect(try await events.next() == .evicted(evicted))
            let unsealed = try producer.create(aborted, dataSize: 8)
            try unsealed.abort()
            #expect(try await events.next() == .aborted(aborted))
        }

        @Test func subscribingToAnAlreadySealedIdDeliversItAtOnce() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let id = ObjectID.random()
            try await client.createAndSeal(id, data: [UInt8](repeating: 0, count: 10))
            var events = client.events(for: [id]).makeAsyncIterator()
            #expect(try await events.next() == .sealed(id, dataSize: 10, metadataSize: 0))
        }

        @Test func prefixSubscriptionsHearTheirNamespaceOnly() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let producer = try store.connect()
            let namespace: [UInt8] = [0xAB, 0xCD]
            func id(_ prefix: [UInt8]) -> ObjectID { ObjectID(bytes: prefix + ObjectID.random().bytes.dropFirst(prefix.count))! }
            let inside = id(namespace)
            let outside = id([0xAB, 0xCE])
            var events = client.events(prefix: namespace).makeAsyncIterator()
            #expect(try await eventually { try producer.statistics().subscriptions == 1 })
            try producer.createAndSeal(outside, data: [1])
            try producer.createAndSeal(inside, data: [1, 1])
            #expect(try await events.next() == .sealed(inside, dataSize: 2, metadataSize: 0))
        }

        @Test func allEventsHearsEverything() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let producer = try store.connect()
            var events = client.allEvents().makeAsyncIterator()
            #expect(try await eventually { try producer.statistics().subscriptions == 1 })
            let ids = (0..<5).map { _ in ObjectID.random() }
            for id in ids { try producer.createAndSeal(id, data: [7]) }
            var seen: [ObjectID] = []
            for _ in ids { seen.append(try #require(try await events.next()?.id)) }
            #expect(seen == ids)
        }

        @Test func endingTheLoopOrCancellingTheTaskUnsubscribes() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let observer = try store.connect()
            let id = ObjectID.random()
            try observer.createAndSeal(id, data: [1])
            for try await event in client.events(for: [id]) {
                #expect(event.id == id)
                break
            }
            #expect(try await eventually { try observer.statistics().subscriptions == 0 })

            let listening = Task { for try await _ in client.allEvents() {} }
            #expect(try await eventually { try observer.statistics().subscriptions == 1 })
            listening.cancel()
            _ = try? await listening.value
            #expect(try await eventually { try observer.statistics().subscriptions == 0 })
        }

        @Test func aStalledSubscriberGetsOneOverflowMarkerAndOthersLoseNothing() async throws {
            let store = try StoreProcess(arguments: ["--client-buffer", "64K"])
            let stalled = try RawConnection(path: store.socketPath)
            #expect(try stalled.call(.subscribe(subscriptionID: 5, filter: .all)) == .done)
            let healthy = try AsyncPlasmaClient(socketPath: store.socketPath)
            let producer = try store.connect()
            let count = 20_000
            let ids = (0..<count).map { _ in ObjectID.random() }
            let seen = SeenCounter()
            let listener = Task {
                for try await event in healthy.events(for: ids) {
                    if case .overflow = event { break }  // lost events: fail below instead of waiting forever
                    if case .sealed = event, await seen.increment() == count { break }
                }
                return await seen.value
            }
            #expect(try await eventually { try producer.statistics().subscriptions == 2 })
            // The producer never runs more than 500 seals ahead of the healthy subscriber: a reader that
            // keeps up loses nothing, however far the stalled one falls behind. (At full speed on a
            // loaded 2-core machine a producer can outrun any reader that isn't scheduled for a few ms,
            // and the 64 KiB buffer would then rightly overflow for it too.)
            for (index, id) in ids.enumerated() {
                try producer.createAndSeal(id, data: [1])
                if index % 500 == 499 { #expect(try await eventually { await seen.value >= index + 1 - 500 }) }
            }
            #expect(try await listener.value == count)

            let statistics = try producer.statistics()
            #expect(statistics.eventsDropped > 0)
            // The stalled one now reads: events it had room for, one overflow marker, then the rest.
            var delivered = 0
            var overflows: [Int] = []
            try stalled.send(.stats)
            while true {
                switch try stalled.readFrame() {
                case .event(_, .overflow(let dropped)): overflows.append(dropped)
                case .event: delivered += 1
                case .reply: break
                }
                if delivered + (overflows.last ?? 0) >= count { break }
            }
            #expect(overflows.count == 1)
            #expect(delivered + overflows[0] == count)
            #expect(Int64(overflows[0]) == statistics.eventsDropped)
        }

        @Test func aClientThatStopsReadingRepliesIsDisconnectedWithALogLine() throws {
            let store = try StoreProcess(arguments: ["--client-buffer", "16K"])
            let greedy = try RawConnection(path: store.socketPath)
            let bystander = try store.connect()
            // 128K of unread replies is the limit (8 × client buffer); ask for far more and read none.
            for _ in 0..<20_000 { try? greedy.send(.stats) }
            #expect(store.waitForLog("stopped reading replies"))
            #expect(try bystander.statistics().clients == 1)
        }
    }
}

/// How many events a listener task has seen, readable from the test while it runs.
actor SeenCounter {
    private(set) var value = 0
    func increment() -> Int {
        value += 1
        return value
    }
}
