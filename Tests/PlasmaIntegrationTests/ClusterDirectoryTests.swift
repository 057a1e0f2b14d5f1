#if Cluster
import Foundation
import PlasmaClusterCore
import PlasmaCore
@testable import PlasmaEtcd
import PlasmaTestSupport
import Testing

extension IntegrationTests {
    /// `EtcdDirectory` against a real etcd: several directories in this process, each a node.
    @Suite struct ClusterDirectoryTests {
        @Test func aWantReachesTheOtherNodeAndAPublishReachesTheWanter() async throws {
            let etcd = try EtcdProcess()
            let url = etcd.url()
            let (a, aEvents) = try await startedDirectory("a", url: url)
            let (b, bEvents) = try await startedDirectory("b", url: url)
            var random = SeededRandom(seed: 15)
            let id = ObjectID.random(using: &random)

            a.want([id])
            a.flush()
            try await bEvents.waitFor(.wanted(id, byNode: "a"))
            b.publish([location(id, on: "b")])
            b.flush()
            try await aEvents.waitFor(.located(location(id, on: "b")))
            #expect(!aEvents.all.contains { if case .wanted = $0 { true } else { false } }, "a's own want came back")

            a.unwant([id])
            a.flush()
            try await bEvents.waitFor(.unwanted(id, byNode: "a"))
            b.unpublish([id])
            b.flush()
            #expect(try await eventually { try await EtcdClient(endpoints: EtcdEndpoints(url: url)).range(EtcdEndpoints(url: url).keyPrefix + "locations/", prefix: true).keys.isEmpty })
            #expect(try await a.nodes().map(\.name) == ["a", "b"])
            await a.stop()
            await b.stop()
        }

        @Test func aHandlerSetAfterStartHearsTheWantsAlreadyKnown() async throws {
            let etcd = try EtcdProcess()
            let url = etcd.url()
            let (a, _) = try await startedDirectory("a", url: url)
            var random = SeededRandom(seed: 21)
            let ids = [ObjectID.random(using: &random), ObjectID.random(using: &random)]
            a.want(ids)
            a.flush()
            let b = EtcdDirectory(configuration: EtcdDirectoryConfiguration(
                endpoints: try EtcdEndpoints(url: url), node: ClusterNode(name: "b", transferAddress: "127.0.0.1:7098", capacityBytes: 1)))
            try await b.start()  // as plasma-store does: registered before the server (and its handler) exists
            let keys = EtcdDirectoryKeysProbe(url: url)
            #expect(try await eventually { try await keys.names("wants/").count == 2 })
            let events = ClusterEventRecorder()
            // b's watch may not have read the wants yet: the replay or the watch reports them, once set.
            b.setEventHandler(events.handler)
            for id in ids { try await events.waitFor(.wanted(id, byNode: "a")) }
            await a.stop()
            await b.stop()
        }

        @Test func wantsAreReadInPagesAndCappedPerNode() async throws {
            let etcd = try EtcdProcess()
            let url = etcd.url()
            let (a, _) = try await startedDirectory("a", url: url)
            var random = SeededRandom(seed: 24)
            let ids = (0..<300).map { _ in ObjectID.random(using: &random) }
            a.want(ids)
            a.flush()
            let keys = EtcdDirectoryKeysProbe(url: url)
            #expect(try await eventually { try await keys.names("wants/").count == 300 })
            // Started after the wants exist: their first read of wants/ is six pages of 50.
            func paged(_ name: String, limit: Int) async throws -> (EtcdDirectory, ClusterEventRecorder) {
                var configuration = EtcdDirectoryConfiguration(
                    endpoints: try EtcdEndpoints(url: url), node: ClusterNode(name: name, transferAddress: "127.0.0.1:7099", capacityBytes: 1))
                configuration.rangePageSize = 50
                configuration.maximumWantsPerNode = limit
                let directory = EtcdDirectory(configuration: configuration)
                let events = ClusterEventRecorder()
                directory.setEventHandler(events.handler)
                try await directory.start()
                return (directory, events)
            }
            let (b, bEvents) = try await paged("b", limit: 1000)
            let (c, cEvents) = try await paged("c", limit: 200)
            let wanted = { (events: ClusterEventRecorder) in
                events.all.compactMap { if case .wanted(let id, "a") = $0 { id } else { nil } }
            }
            #expect(try await eventually { Set(wanted(bEvents)) == Set(ids) })
            #expect(try await eventually { wanted(cEvents).count == 200 && c.state.withLock { $0.wantsIgnored } == 100 })
            #expect(wanted(bEvents).count == 300, "each want once across the pages")
            #expect(b.state.withLock { $0.wantsIgnored } == 0)
            // Over the limit, a watched want is ignored too; below it again, one is heard.
            let more = (0..<2).map { _ in ObjectID.random(using: &random) }
            a.want([more[0]])
            a.flush()
            try await bEvents.waitFor(.wanted(more[0], byNode: "a"))
            #expect(try await eventually { c.state.withLock { $0.wantsIgnored } == 101 })
            let heard = Set(wanted(cEvents))
            let dropped = Array(heard.prefix(10))
            a.unwant(dropped)
            a.flush()
            for id in dropped { try await cEvents.waitFor(.unwanted(id, byNode: "a")) }
            a.want([more[1]])
            a.flush()
            try await cEvents.waitFor(.wanted(more[1], byNode: "a"))
            #expect(!wanted(cEvents).contains(more[0]))
            for directory in [a, b, c] { await directory.stop() }
        }

        @Test func aWantSeesLocationsPublishedBeforeIt() async throws {
            let etcd = try EtcdProcess()
            let url = etcd.url()
            let (a, aEvents) = try await startedDirectory("a", url: url)
            let (b, _) = try await startedDirectory("b", url: url)
            var random = SeededRandom(seed: 16)
            let ids = (0..<300).map { _ in ObjectID.random(using: &random) }  // more than one transaction holds
            b.publish(ids.map { location($0, on: "b") })
            b.flush()
            let client = EtcdClient(endpoints: try EtcdEndpoints(url: url))
            #expect(try await eventually { try await client.range(try EtcdEndpoints(url: url).keyPrefix + "locations/", prefix: true).keys.count == 300 })
            a.want(ids)
            a.flush()
            for id in ids { try await aEvents.waitFor(.located(location(id, on: "b"))) }
            #expect(aEvents.all.count == 300, "each location once: \(aEvents.all.count)")
            await a.stop()
            await b.stop()
        }

        /// An id deleted and sealed again with other bytes in one store pass: the withdrawal batched
        /// first must reach etcd before the new record, or `first/` still holds the old checksum and
        /// the new location is refused against this node's own record.
        @Test func aWithdrawalThenAPublishWithOtherBytesInOneFlushReplaceTheRecords() async throws {
            let etcd = try EtcdProcess()
            let url = etcd.url()
            let (a, aEvents) = try await startedDirectory("a", url: url)
            let (b, bEvents) = try await startedDirectory("b", url: url)
            var random = SeededRandom(seed: 31)
            let id = ObjectID.random(using: &random)
            a.want([id])
            a.flush()
            b.publish([location(id, on: "b", checksum: 1)])
            b.flush()
            try await aEvents.waitFor(.located(location(id, on: "b", checksum: 1)))
            b.unpublish([id])
            b.publish([location(id, on: "b", checksum: 2)])
            b.flush()
            try await aEvents.waitFor(.located(location(id, on: "b", checksum: 2)))
            #expect(!bEvents.all.contains { if case .publishRefused = $0 { true } else { false } })
            await a.stop()
            await b.stop()
        }

        @Test func relocateReportsThePresentLocationsOfWantedIdsAgain() async throws {
            let etcd = try EtcdProcess()
            let url = etcd.url()
            let (a, aEvents) = try await startedDirectory("a", url: url)
            let (b, _) = try await startedDirectory("b", url: url)
            var random = SeededRandom(seed: 23)
            let (id, unwanted) = (ObjectID.random(using: &random), ObjectID.random(using: &random))
            a.want([id])
            a.flush()
            b.publish([location(id, on: "b"), location(unwanted, on: "b")])
            b.flush()
            let first = try await aEvents.waitFor(.located(location(id, on: "b")))
            a.relocate([id, unwanted])  // only wanted ids are looked up
            a.flush()
            try await aEvents.waitFor(.located(location(id, on: "b")), after: first + 1)
            #expect(aEvents.all.filter { if case .located = $0 { true } else { false } }.count == 2)
            #expect(!aEvents.all.contains(.located(location(unwanted, on: "b"))))
            await a.stop()
            await b.stop()
        }

        @Test func theFirstLocationWinsAndOtherBytesAreRefused() async throws {
            let etcd = try EtcdProcess()
            let url = etcd.url()
            let (a, aEvents) = try await startedDirectory("a", url: url)
            let (b, _) = try await startedDirectory("b", url: url)
            let (c, cEvents) = try await startedDirectory("c", url: url)
            let (d, dEvents) = try await startedDirectory("d", url: url)
            var random = SeededRandom(seed: 17)
            let id = ObjectID.random(using: &random)
            a.want([id])
            a.flush()
            b.publish([location(id, on: "b", checksum: 1)])
            b.flush()
            try await aEvents.waitFor(.located(location(id, on: "b", checksum: 1)))
            c.publish([location(id, on: "c", checksum: 2)])
            c.flush()
            try await cEvents.waitFor(.publishRefused(id, firstNode: "b"))
            d.publish([location(id, on: "d", checksum: 1)])  // the same bytes elsewhere: a second copy
            d.flush()
            try await aEvents.waitFor(.located(location(id, on: "d", checksum: 1)))
            #expect(!aEvents.all.contains { if case .located(let found) = $0 { found.node == "c" } else { false } })
            #expect(!dEvents.all.contains { if case .publishRefused = $0 { true } else { false } })
            for directory in [a, b, c, d] { await directory.stop() }
        }

        @Test func aLaterPublisherWaitsForTheFirstPublishersChecksumThenCompares() async throws {
            let etcd = try EtcdProcess()
            let url = etcd.url()
            let (a, aEvents) = try await startedDirectory("a", url: url)
            let (b, _) = try await startedDirectory("b", url: url)
            let (c, cEvents) = try await startedDirectory("c", url: url)
            let (d, dEvents) = try await startedDirectory("d", url: url)
            var random = SeededRandom(seed: 22)
            let id = ObjectID.random(using: &random)
            a.want([id])
            a.flush()
            b.publish([location(id, on: "b", checksum: nil)])  // first, published before it hashed
            b.flush()
            try await aEvents.waitFor(.located(location(id, on: "b", checksum: nil)))
            c.publish([location(id, on: "c", checksum: 2)])  // other bytes
            d.publish([location(id, on: "d", checksum: 1)])  // the same bytes
            c.flush()
            d.flush()
            // Neither can compare with b yet: both wait, neither refused nor written.
            #expect(try await eventually { c.state.withLock { $0.deferred.contains(id) } && d.state.withLock { $0.deferred.contains(id) } })
            let keys = EtcdDirectoryKeysProbe(url: url)
            #expect(try await keys.names("locations/") == ["\(id.hex)/b"])
            #expect(!cEvents.all.contains { if case .publishRefused = $0 { true } else { false } })
            b.publish([location(id, on: "b", checksum: 1)])  // b has hashed: first/ gets the checksum
            b.flush()
            try await cEvents.waitFor(.publishRefused(id, firstNode: "b"))
            try await aEvents.waitFor(.located(location(id, on: "d", checksum: 1)))
            #expect(!aEvents.all.contains { if case .located(let found) = $0 { found.node == "c" } else { false } })
            #expect(!dEvents.all.contains { if case .publishRefused = $0 { true } else { false } })
            let first = try await EtcdClient(endpoints: try EtcdEndpoints(url: url)).range(try EtcdEndpoints(url: url).keyPrefix + "first/" + id.hex)
            #expect(first.keys.first.flatMap { DirectoryRecords.first(from: $0.value) } == FirstRecord(node: "b", checksum: 1))
            #expect(try await keys.names("locations/") == ["\(id.hex)/b", "\(id.hex)/d"])
            // b withdraws: its first/ (completed with the checksum) goes with its location.
            b.unpublish([id])
            b.flush()
            #expect(try await eventually { try await keys.names("first/").isEmpty })
            for directory in [a, b, c, d] { await directory.stop() }
        }

        @Test func theFirstRuleForEveryPairOfChecksums() {
            let id = ObjectID(bytes: [UInt8](repeating: 1, count: ObjectID.byteCount))!
            func decide(_ ours: UInt64?, first node: String, _ theirs: UInt64?) -> FirstRule {
                FirstRule.decide(location(id, on: "c", checksum: ours), against: FirstRecord(node: node, checksum: theirs), localNode: "c")
            }
            #expect(decide(1, first: "b", 1) == .put)
            #expect(decide(2, first: "b", 1) == .refuse)
            #expect(decide(1, first: "b", nil) == .deferUntilFirstHashed)
            #expect(decide(nil, first: "b", 1) == .waitForOwnChecksum)
            #expect(decide(nil, first: "b", nil) == .waitForOwnChecksum)
            #expect(decide(1, first: "c", 1) == .put)
            #expect(decide(nil, first: "c", nil) == .put)
            #expect(decide(1, first: "c", nil) == .completeOwnFirst)
            #expect(decide(nil, first: "c", 1) == .waitForOwnChecksum)
            #expect(decide(2, first: "c", 1) == .refuse)
            // Records without a checksum read back as such; a malformed one is no record.
            #expect(DirectoryRecords.first(from: DirectoryRecords.first(node: "b", checksum: nil)) == FirstRecord(node: "b", checksum: nil))
            #expect(DirectoryRecords.first(from: Array(#"{"node":"b","checksum":"xyz"}"#.utf8)) == nil)
            let unhashed = location(id, on: "b", checksum: nil)
            #expect(DirectoryRecords.location(from: DirectoryRecords.location(unhashed), id: id, node: "b") == unhashed)
        }

        @Test func recordsReadBackAndFirstIsWrittenAsJSONSerializationWroteIt() throws {
            var random = SeededRandom(seed: 0x7ec)
            let id = ObjectID.random(using: &random)
            // `first/` is compared byte for byte by nodes of other versions: the encoder must write what
            // JSONSerialization (sorted keys) wrote before it.
            for (node, checksum) in [("b", UInt64?.none), ("node-7.example", 0xfeed), ("nœud/ü", 1), ("a\"q", UInt64.max)] {
                var object: [String: Any] = ["node": node]
                if let checksum { object["checksum"] = DirectoryRecords.hex(checksum) }
                let before = Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
                #expect(DirectoryRecords.first(node: node, checksum: checksum) == before, "\(node)")
                #expect(DirectoryRecords.first(from: before) == FirstRecord(node: node, checksum: checksum))
            }
            // A location with inline bytes reads back whole; bytes without a checksum or a MAC are dropped
            // (the copy is then pulled), the location kept.
            var small = location(id, on: "b", checksum: 42)
            (small.dataSize, small.metadataSize) = (2, 1)
            small.inline = InlineCopy(bytes: [1, 2, 3], mac: Array(repeating: 9, count: 32))
            #expect(DirectoryRecords.location(from: DirectoryRecords.location(small), id: id, node: "b") == small)
            var unhashed = small
            unhashed.checksum = nil
            #expect(DirectoryRecords.location(from: DirectoryRecords.location(unhashed), id: id, node: "b")?.inline == nil)
            // Bytes of another length than the sizes, or over `InlineCopy.maximumBytes`, are dropped unread.
            var otherLength = small
            otherLength.dataSize = 3
            #expect(DirectoryRecords.location(from: DirectoryRecords.location(otherLength), id: id, node: "b")?.inline == nil)
            var huge = small
            (huge.dataSize, huge.metadataSize) = (InlineCopy.maximumBytes + 1, 0)
            huge.inline = InlineCopy(bytes: Array(repeating: 1, count: InlineCopy.maximumBytes + 1), mac: Array(repeating: 9, count: 32))
            #expect(DirectoryRecords.location(from: DirectoryRecords.location(huge), id: id, node: "b")?.inline == nil)
            // Sizes whose sum overflows are no location (every store wanting the id trapped on them).
            let overflowing = Array(#"{"checksum":"000000000000002a","data_size":9223372036854775807,"metadata_size":1,"transfer_address":"h:1"}"#.utf8)
            #expect(DirectoryRecords.location(from: overflowing, id: id, node: "b") == nil)
            let withoutMAC = Array(#"{"checksum":"000000000000002a","data_size":3,"inline":"AQID","metadata_size":0,"transfer_address":"h:1"}"#.utf8)
            let read = DirectoryRecords.location(from: withoutMAC, id: id, node: "b")
            #expect(read != nil && read?.inline == nil && read?.checksum == 42)
        }

        @Test func aLapsedLeaseUnwantsAndTakesItsLocationsAway() async throws {
            let etcd = try EtcdProcess()
            let url = etcd.url()
            let (a, _) = try await startedDirectory("a", url: url, ttl: 1)
            let (b, bEvents) = try await startedDirectory("b", url: url)
            var random = SeededRandom(seed: 18)
            let wanted = ObjectID.random(using: &random), held = ObjectID.random(using: &random)
            a.want([wanted])
            a.publish([location(held, on: "a")])
            a.flush()
            b.want([held])
            b.flush()
            try await bEvents.waitFor(.wanted(wanted, byNode: "a"))
            try await bEvents.waitFor(.located(location(held, on: "a")))
            a.halt()  // as if the store died: no keepalive, no revocation
            try await bEvents.waitFor(.unwanted(wanted, byNode: "a"), timeout: 30)
            try await bEvents.waitFor(.locationGone(held, node: "a"), timeout: 30)
            #expect(try await b.nodes().map(\.name) == ["b"])
            await b.stop()
        }

        @Test func stopRevokesTheLeaseAtOnce() async throws {
            let etcd = try EtcdProcess()
            let url = etcd.url()
            let (a, _) = try await startedDirectory("a", url: url, ttl: 60)
            let (b, bEvents) = try await startedDirectory("b", url: url)
            var random = SeededRandom(seed: 19)
            let id = ObjectID.random(using: &random)
            a.want([id])
            a.flush()
            try await bEvents.waitFor(.wanted(id, byNode: "a"))
            let stopped = Date()
            await a.stop()
            #expect(try await b.nodes().map(\.name) == ["b"], "a's record outlived its stop")
            // Far sooner than the 60 s lease: revoked, not expired.
            try await bEvents.waitFor(.unwanted(id, byNode: "a"), timeout: 20)
            #expect(Date().timeIntervalSince(stopped) < 30)
            await b.stop()
        }

        @Test func anEtcdRestartDisconnectsThenReconnectsAndRepublishes() async throws {
            let etcd = try EtcdProcess()
            let url = etcd.url()
            let (a, aEvents) = try await startedDirectory("a", url: url, ttl: 2)
            let (b, bEvents) = try await startedDirectory("b", url: url, ttl: 2)
            var random = SeededRandom(seed: 20)
            let id = ObjectID.random(using: &random)
            a.want([id])
            a.flush()
            b.publish([location(id, on: "b")])
            b.flush()
            try await aEvents.waitFor(.located(location(id, on: "b")))
            try await bEvents.waitFor(.wanted(id, byNode: "a"))

            etcd.stop()
            let aDown = try await aEvents.waitFor(.disconnected, timeout: 30)
            let bDown = try await bEvents.waitFor(.disconnected, timeout: 30)
            // Calls while etcd is away are kept locally and re-published.
            let later = ObjectID.random(using: &random)
            a.want([later])
            a.flush()
            try etcd.start()
            let aUp = try await aEvents.waitFor(.reconnected, timeout: 30, after: aDown)
            _ = try await bEvents.waitFor(.reconnected, timeout: 30, after: bDown)
            try await aEvents.waitFor(.located(location(id, on: "b")), timeout: 30, after: aUp)
            try await bEvents.waitFor(.wanted(later, byNode: "a"), timeout: 30)
            let keys = EtcdDirectoryKeysProbe(url: url)
            #expect(try await eventually { try await keys.names("wants/") == ["\(id.hex)/a", "\(later.hex)/a"].sorted() })
            #expect(try await keys.names("locations/") == ["\(id.hex)/b"])
            #expect(try await a.nodes().map(\.name) == ["a", "b"])
            await a.stop()
            await b.stop()
        }
    }
}

/// Reads a test cluster's keys directly, names relative to a folder.
struct EtcdDirectoryKeysProbe {
    let endpoints: EtcdEndpoints

    init(url: String) { endpoints = try! EtcdEndpoints(url: url) }

    func names(_ folder: String) async throws -> [String] {
        let prefix = endpoints.keyPrefix + folder
        return try await EtcdClient(endpoints: endpoints).range(prefix, prefix: true).keys.map { String($0.key.dropFirst(prefix.count)) }.sorted()
    }
}
#endif
