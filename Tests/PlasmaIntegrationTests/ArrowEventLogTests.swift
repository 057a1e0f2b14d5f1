import PlasmaArrowClient
import PlasmaCore
import PlasmaTestSupport
import PlasmaWire
import Testing

extension IntegrationTests {
    /// Arrow subscribers share one event log in the store (ArrowEventLog.swift), each reading it from
    /// its own position: each hears every event once and in order at its own pace, one that stops
    /// reading is dropped at its bound without the others missing anything, and the subscribers show
    /// in `stats` for as long as their connections last.
    @Suite struct ArrowEventLogTests {
        static let digest: [UInt8] = [8, 7, 6, 5, 4, 3, 2, 1]

        @Test func subscribersShareTheEventLogEachAtItsOwnPace() throws {
            let store = try StoreProcess(arguments: ["--arrow-notification-backlog", "1000"])
            let stats = try store.connect()
            let sealer = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            var reader: ArrowClient? = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            let stalled = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            let readerStream = try reader!.subscribe()
            let stalledStream = try stalled.subscribe()
            // Frames run in order: once these are answered, both subscribes (and their fds) are in.
            #expect(try reader!.call(.contains(id: .random())).isContainsReply)
            #expect(try stalled.call(.contains(id: .random())).isContainsReply)
            #expect(try stats.statistics().subscriptions == 2, "each Arrow subscriber counts")

            var random = SeededRandom(seed: 13_0301)
            let ids = (0..<6_000).map { _ in ObjectID.random(using: &random) }
            let deleted = Array(ids.prefix(10))
            let expected: [ArrowObjectInfo] = ids.map { .sealed(id: $0, dataSize: 1, metadataSize: 0, digest: Self.digest) }
                + deleted.map { .deleted(id: $0) }
            // The reader reads as the seals go; the stalled one never reads, so its socket fills and
            // 1,000 more wait for it in the log, then it is dropped.
            let reading = BackgroundCall { () throws -> [ArrowObjectInfo] in
                var heard: [ArrowObjectInfo] = []
                while heard.count < expected.count, let notification = try ArrowClient.nextNotification(readerStream) {
                    heard += notification.objects
                }
                return heard
            }
            for id in ids {
                #expect(try sealer.call(.createAndSeal(id: id, evictIfFull: true, data: [9], metadata: [], digest: Self.digest))
                    == .createAndSeal(error: .ok))
            }
            _ = try sealer.call(.delete(ids: deleted))
            #expect(try reading.value(timeout: 120) == expected, "every event once, in order, to the one that reads")
            #expect(store.waitForLog("reads notifications too slowly"), "log: \(store.log)")

            // What the stalled one was sent before the drop arrives, in order, then EOF.
            var stalledHeard: [ArrowObjectInfo] = []
            while let notification = try ArrowClient.nextNotification(stalledStream) { stalledHeard += notification.objects }
            #expect(stalledHeard.count > 0 && stalledHeard.count < expected.count)
            #expect(stalledHeard == Array(expected.prefix(stalledHeard.count)))
            let afterDrop = try stats.statistics()
            #expect(afterDrop.arrowSubscriptionsDropped == 1)
            #expect(afterDrop.subscriptions == 1, "the dropped one no longer counts")

            // The reader still hears new events after the other's drop; and goes from stats with its connection.
            let late = ObjectID.random(using: &random)
            _ = try sealer.call(.createAndSeal(id: late, evictIfFull: true, data: [9], metadata: [], digest: Self.digest))
            #expect(try ArrowClient.nextNotification(readerStream)?.objects
                == [.sealed(id: late, dataSize: 1, metadataSize: 0, digest: Self.digest)])
            reader = nil  // its connection closes
            #expect(try eventually { try stats.statistics().subscriptions == 0 })
        }
    }
}
