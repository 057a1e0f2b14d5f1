import Foundation
import Logging
import PlasmaClient
import Testing

extension IntegrationTests {
    /// Issue 11, item 3: the blocking and the async client have the same operations, the same `Wait`,
    /// the same outcome when it passes (nil) and the same typed error, against a real store.
    @Suite struct OneVocabularyTests {
        @Test func asyncCreateWriteSealPublishesTheObjectAndHoldsTheCreatorsReference() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let observer = try store.connect()
            let id = ObjectID.random()
            let bytes = pattern(size: 300_000, seed: 5)
            let object = try await client.create(id, dataSize: bytes.count, metadata: [7, 8])
            #expect((object.count, object.metadataCount) == (300_000, 2))
            try object.write(Data(bytes[..<1000]))
            object.withUnsafeMutableBytes { buffer in
                bytes[1000...].withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[1000...]).copyMemory(from: $0) }
            }
            #expect(throws: PlasmaClientError.self) { try object.write([1, 2], at: 299_999) }
            #expect(try observer.contains(id) == false, "not published before the seal")
            let sealed = try await object.seal()
            let read = try #require(try observer.get(id, timeout: .no))
            #expect(checksum(read.copyBytes()) == checksum(bytes))
            #expect(read.copyMetadata() == [7, 8])
            #expect(try observer.list().first { $0.id == id }?.referenceCount == 2, "the creator's and the reader's")
            try sealed.release()
            #expect(try await eventually { try observer.list().first { $0.id == id }?.referenceCount == 1 })
        }

        @Test func asyncAbortAndDroppingAnUnsealedObjectBothLeaveNothing() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let observer = try store.connect()
            let (aborted, dropped) = (ObjectID.random(), ObjectID.random())
            let object = try await client.create(aborted, dataSize: 10)
            try await object.abort()
            do { _ = try await client.create(dropped, dataSize: 10) }
            #expect(try await eventually { try observer.list().isEmpty })
            await #expect(throws: PlasmaClientError.self) {
                _ = try await client.create(.random(), dataSize: 1 << 40)  // larger than the store
            }
        }

        @Test func asyncPutSizeWritesInPlace() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let id = ObjectID.random()
            try await client.put(id, size: 200_000, metadata: [1]) { $0.initializeMemory(as: UInt8.self, repeating: 9) }
            let buffer = try #require(try await client.get(id, timeout: .no))
            #expect(buffer.copyBytes() == [UInt8](repeating: 9, count: 200_000))
            #expect(buffer.copyMetadata() == [1])
        }

        /// Small puts go inline, large ones in place: both sizes, as [UInt8], Data and a slice, on both
        /// clients, each read back by the other client.
        @Test func putOfBytesDataAndSlicesOnBothClients() async throws {
            let store = try StoreProcess()
            let blocking = try store.connect()
            let async = try AsyncPlasmaClient(socketPath: store.socketPath)
            for size in [3, PlasmaClient.inlineLimit + 1, 2 << 20] {
                let bytes = pattern(size: size, seed: size % 251)
                let ids = (0..<6).map { _ in ObjectID.random() }
                try blocking.put(ids[0], bytes: bytes, metadata: [1])
                try blocking.put(ids[1], bytes: Data(bytes))
                try blocking.put(ids[2], bytes: bytes[...])
                try await async.put(ids[3], bytes: bytes, metadata: [1])
                try await async.put(ids[4], bytes: Data(bytes))
                try await async.put(ids[5], bytes: bytes[...])
                for (index, id) in ids.enumerated() {
                    let buffer = try #require(index < 3 ? try await async.get(id, timeout: .no) : try blocking.get(id, timeout: .no))
                    #expect(checksum(buffer.copyBytes()) == checksum(bytes), "size \(size), put \(index)")
                    #expect(buffer.copyMetadata() == (index % 3 == 0 ? [1] : []))
                }
            }
            // put keeps no reference.
            #expect(try await eventually { try blocking.list().allSatisfy { $0.referenceCount == 0 } })
            #expect(throws: PlasmaClientError.self) { try blocking.put(.random(), bytes: [UInt8](repeating: 0, count: 2 << 30)) }
        }

        /// The same Wait gives the same answer on both clients: nil for an object not sealed in time (a
        /// poll, a short timeout), nil in its place among objects that are there, and nothing left
        /// waiting in the store.
        @Test(arguments: [Wait.no, .milliseconds(50), .timeout(.milliseconds(120))])
        func aTimeoutIsNilOnBothClients(wait: Wait) async throws {
            let store = try StoreProcess()
            let blocking = try store.connect()
            let async = try AsyncPlasmaClient(socketPath: store.socketPath)
            let (present, missing) = (ObjectID.random(), ObjectID.random())
            try blocking.createAndSeal(present, data: [4, 2])

            #expect(try blocking.get(missing, timeout: wait) == nil)
            #expect(try await async.get(missing, timeout: wait) == nil)
            let blockingMany = try blocking.get([present, missing], timeout: wait)
            let asyncMany = try await async.get([present, missing], timeout: wait)
            #expect(blockingMany.map { $0?.copyBytes() } == [[4, 2], nil])
            #expect(asyncMany.map { $0?.copyBytes() } == [[4, 2], nil])
            var yielded: [ObjectID] = []
            for try await buffer in async.sealed([present, missing], timeout: wait) { yielded.append(buffer.id) }
            #expect(yielded == [present])
            #expect(try await eventually { try blocking.statistics().pendingGets == 0 })
        }

        /// Typed throws: inside `catch`, `error` is a PlasmaClientError on both clients, with no cast
        /// (these lines compile only because the calls are `throws(PlasmaClientError)`).
        @Test func bothClientsThrowPlasmaClientErrorTyped() async throws {
            let store = try StoreProcess()
            let blocking = try store.connect()
            let async = try AsyncPlasmaClient(socketPath: store.socketPath)
            let id = ObjectID.random()
            try blocking.createAndSeal(id, data: [1])
            do {
                try await async.createAndSeal(id, data: [2])
                Issue.record("a second create of one id succeeded")
            } catch {
                let typed: PlasmaClientError = error
                #expect(typed.status == .objectExists)
            }
            do {
                _ = try await async.get(id)
                _ = try await async.create(id, dataSize: 1)
                Issue.record("a second create of one id succeeded")
            } catch {
                let typed: PlasmaClientError = error
                #expect(typed.status == .objectExists)
            }
            do {
                try blocking.put(id, bytes: [3])
                Issue.record("a second put of one id succeeded")
            } catch {
                let typed: PlasmaClientError = error
                #expect(typed.status == .objectExists)
            }
            let waiting = Task { try await async.get(.random()) }
            #expect(try await eventually { try blocking.statistics().pendingGets == 1 })
            waiting.cancel()
            switch await waiting.result {
            case .failure(let error): #expect(error as? PlasmaClientError == .cancelled)
            case .success: Issue.record("a cancelled get returned")
            }
            async.shutdown()
            do {
                for try await _ in async.allEvents() {}
                Issue.record("a stream of a shut-down client ended without an error")
            } catch {
                let typed: PlasmaClientError = error
                #expect(typed == .disconnected("the client shut down"))
            }
        }

        @Test func batchCreateAndSealContainsDeleteListStatisticsOnTheAsyncClient() async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let ids = (0..<3).map { _ in ObjectID.random() }
            #expect(try await client.createAndSeal(batch: ids.map { InlineObject(id: $0, data: [1]) }) == [.ok, .ok, .ok])
            #expect(try await client.contains(ids[0]))
            #expect(Set(try await client.list().map(\.id)) == Set(ids))
            #expect(try await client.delete([ids[0]]) == [.ok])
            #expect(try await client.contains(ids[0]) == false)
            #expect(try await client.statistics().sealedObjects == 2)
        }

        /// A blocking subscription: an event sealed by another process arrives through `next`, a wait
        /// that passes is nil (as for a get), and cancel unsubscribes in the store.
        @Test func blockingSubscriptionDeliversEventsAndTimesOutWithNil() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let observer = try store.connect()
            let id = ObjectID.random()
            let subscription = try client.events(for: [id])
            #expect(try observer.statistics().subscriptions == 1)
            #expect(try subscription.next(timeout: .no) == nil)
            #expect(try subscription.next(timeout: .milliseconds(50)) == nil)
            let writer = try PeerProcess(["put", store.socketPath, id.hex, "100", "1"])
            #expect(writer.nextLine() == "sealed")
            #expect(try subscription.next(timeout: .seconds(30)) == .sealed(id, dataSize: 100, metadataSize: 0))
            #expect(try observer.delete([id]) == [.ok])
            #expect(try subscription.next() == .deleted(id))
            subscription.cancel()
            #expect(try subscription.next() == nil, "a cancelled subscription has no more events")
            #expect(try eventually { try observer.statistics().subscriptions == 0 })
        }

        /// The blocking client's threads share one reader: whichever thread reads, a subscriber waiting on
        /// one thread gets its event while a get waits on another, and the get gets its reply.
        @Test func aBlockingSubscriberAndAWaitingGetShareTheConnection() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let observer = try store.connect()
            let (watched, awaited) = (ObjectID.random(), ObjectID.random())
            let subscription = try client.allEvents()
            let listening = BackgroundCall { try subscription.next(timeout: .seconds(60)) }
            let getting = BackgroundCall { try client.get(awaited, timeout: .seconds(60))?.copyBytes() }
            #expect(try eventually { try observer.statistics().pendingGets == 1 })
            try observer.createAndSeal(watched, data: [1])
            #expect(try listening.value() == .sealed(watched, dataSize: 1, metadataSize: 0))
            try observer.createAndSeal(awaited, data: [2])
            #expect(try getting.value() == [2])
            #expect(try subscription.next(timeout: .seconds(30)) == .sealed(awaited, dataSize: 1, metadataSize: 0))
        }

        @Test func anInjectedLoggerHearsTheConnectionsLife() async throws {
            let store = try StoreProcess()
            let log = CapturedLog()
            var logger = Logger(label: "test", factory: { _ in CapturingLogHandler(log: log) })
            logger.logLevel = .debug
            let blocking = try PlasmaClient(socketPath: store.socketPath, logger: logger)
            let async = try AsyncPlasmaClient(socketPath: store.socketPath, logger: logger)
            #expect(log.lines.filter { $0.contains("connected to \(store.socketPath)") }.count == 2)
            blocking.close()
            async.shutdown()
            #expect(log.lines.contains { $0.contains("the client closed the connection") })
            #expect(log.lines.contains { $0.contains("the client shut down") })
            // Without a logger, nothing is logged anywhere (and nothing needs configuring).
            _ = try PlasmaClient(socketPath: store.socketPath)
        }
    }
}

/// Log lines a test handler received.
final class CapturedLog: @unchecked Sendable {
    // @unchecked: `entries` is only touched under `lock`.
    private let lock = NSLock()
    private var entries: [String] = []

    var lines: [String] { lock.withLock { entries } }
    func append(_ line: String) { lock.withLock { entries.append(line) } }
}

struct CapturingLogHandler: LogHandler {
    let log: CapturedLog
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) { log.append("\(event.level) \(event.message)") }
}
