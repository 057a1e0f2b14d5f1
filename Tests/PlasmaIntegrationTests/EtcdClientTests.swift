#if Cluster
import Foundation
@testable import PlasmaEtcd
import Synchronization
import Testing

extension IntegrationTests {
    /// `EtcdClient` and its parsing, against a real etcd where it talks to one.
    @Suite struct EtcdClientTests {
        @Test func urlsParseIntoHostsAndAPrefix() throws {
            #expect(try EtcdEndpoints(url: "etcd://10.0.0.5:2379") == EtcdEndpoints(hosts: ["10.0.0.5:2379"], keyPrefix: "/swift-plasma/"))
            #expect(try EtcdEndpoints(url: "etcd://a:1,b:2/team/x/") == EtcdEndpoints(hosts: ["a:1", "b:2"], keyPrefix: "/team/x/"))
            for bad in ["http://a:1", "etcd://", "etcd://a", "etcd://a:0", "etcd://a:1,", "etcd://:1"] {
                #expect(throws: EtcdError.self, "\(bad)") { try EtcdEndpoints(url: bad) }
            }
        }

        @Test func aPrefixRangeEndsAtTheNextKey() {
            #expect(rangeEnd(ofPrefix: "/p/") == Array("/p0".utf8))
            #expect(rangeEnd(ofPrefix: "") == [0])
        }

        @Test func theSplitterFindsWholeObjectsAcrossChunksAndInsideStrings() throws {
            var splitter = JSONObjectSplitter(limit: 1024)
            let stream = Array(#"{"a":"}{\"x"}"#.utf8) + Array("\n".utf8) + Array(#"{"b":{"c":1}}"#.utf8)
            var objects: [String] = []
            for byte in stream {  // one byte at a time: every boundary
                objects += try splitter.append([byte]).map { String(decoding: $0, as: UTF8.self) }
            }
            #expect(objects == [#"{"a":"}{\"x"}"#, #"{"b":{"c":1}}"#])
            var small = JSONObjectSplitter(limit: 16)
            #expect(throws: EtcdError.self) { try small.append(Array(#"{"long":"#.utf8) + [UInt8](repeating: 65, count: 64)) }
        }

        @Test func tasksPreferringTheEtcdLoopRunOnItAndOffLoopWorkDoesNot() async throws {
            let loop = EtcdEventLoop.group.next()
            let (onLoop, inside, outside) = try await withTaskExecutorPreference(EtcdEventLoop.executor) { () async throws(EtcdError) in
                let onLoop = loop.inEventLoop
                let inside = pthread_self()
                let outside = try await EtcdEventLoop.offLoop { () throws(EtcdError) in loop.inEventLoop ? 0 : pthread_self() }
                return (onLoop, inside, outside)
            }
            #expect(onLoop)
            #expect(outside != 0 && outside != inside)
            await #expect(throws: EtcdError.malformedResponse("thrown off the loop")) {
                try await EtcdEventLoop.offLoop { () throws(EtcdError) -> Int in throw .malformedResponse("thrown off the loop") }
            }
        }

        @Test func aWatchMessageOfHundredsOfKilobytesIsDecodedWhole() async throws {
            let etcd = try EtcdProcess()
            let client = EtcdClient(endpoints: try EtcdEndpoints(url: etcd.url()))
            let lease = try await client.grantLease(ttl: 30)
            let names = (0..<2_000).map { "/big/" + String(repeating: "k", count: 100) + String(format: "%05d", $0) }
            for chunk in names.chunked(etcdMaximumOperationsPerTransaction) {
                _ = try await client.transaction(compare: [], success: chunk.map { .put(key: $0, value: [1], lease: lease) })
            }
            let revision = try await client.range("/big/", prefix: true).revision
            // The lease's end deletes every key in one revision: one watch message of 2,000 deletes of
            // 148-character keys (base64), over EtcdEventLoop.bigMessage, so decoded off the loop. The
            // watch runs on the loop, as the directory's do.
            let batches = Mutex<[Int]>([])
            let deleted = Mutex<[String]>([])
            let watching = Task(executorPreference: EtcdEventLoop.executor) {
                try await client.watch(prefix: "/big/", startRevision: revision + 1) { batch in
                    batches.withLock { $0.append(batch.events.count) }
                    deleted.withLock { $0 += batch.events.filter { $0.kind == .delete }.map(\.keyValue.key) }
                }
            }
            try await client.revokeLease(lease)
            #expect(try await eventually { deleted.withLock { $0.count } == names.count })
            #expect(batches.withLock { $0 } == [names.count])
            let everyKeyOnce = deleted.withLock { $0.sorted() } == names  // a Bool: a failure doesn't print 2,000 keys twice
            #expect(everyKeyOnce)
            // The loop still serves requests afterwards.
            try await withTaskExecutorPreference(EtcdEventLoop.executor) { try await client.put("/after", value: [1]) }
            watching.cancel()
        }

        @Test func aPrefixIsReadInPagesAtOneRevision() async throws {
            let etcd = try EtcdProcess()
            let client = EtcdClient(endpoints: try EtcdEndpoints(url: etcd.url()))
            let names = (0..<120).map { String(format: "/paged/k%03d", $0) }
            for chunk in names.chunked(etcdMaximumOperationsPerTransaction) {
                _ = try await client.transaction(compare: [], success: chunk.map { .put(key: $0, value: [1], lease: 0) })
            }
            try await client.put("/paged0", value: [2])  // just past the prefix: not read
            var pages: [[String]] = []
            let revision = try await client.rangePages("/paged/", pageSize: 50) { page in
                pages.append(page.map(\.key))
            }
            #expect(pages.map(\.count) == [50, 50, 20])
            #expect(pages.flatMap { $0 } == names)
            #expect(revision == (try await client.range("/paged/", prefix: true)).revision)
        }

        @Test func aPageThatSaysMoreFollowsButHoldsNoKeysIsAnErrorNotTheEnd() async throws {
            let gateway = try FakeGateway(answering: #"{"header":{"revision":"7"},"kvs":[],"more":true,"count":"3"}"#)
            defer { gateway.close() }
            let client = EtcdClient(endpoints: try EtcdEndpoints(url: "etcd://127.0.0.1:\(gateway.port)"))
            var pages = 0
            await #expect(throws: EtcdError.malformedResponse("a range page said more keys follow but held none")) {
                _ = try await client.rangePages("/p/", pageSize: 10) { _ in pages += 1 }
            }
            #expect(pages == 1)
        }

        @Test func keysTransactionsLeasesAndAWatchAgainstEtcd() async throws {
            let etcd = try EtcdProcess()
            // The first endpoint refuses: requests go on to the second.
            let dead = try freeLoopbackPort()
            let client = EtcdClient(endpoints: try EtcdEndpoints(url: "etcd://127.0.0.1:\(dead),127.0.0.1:\(etcd.clientPort)/t"))
            let lease = try await client.grantLease(ttl: 30)
            #expect(try await client.keepAlive(lease: lease) > 0)
            try await client.put("/t/k/1", value: Array("one".utf8), lease: lease)
            let created = try await client.transaction(
                compare: [.createRevision(key: "/t/k/2", equals: 0)], success: [.put(key: "/t/k/2", value: [2], lease: 0)],
                failure: [.range(key: "/t/k/2", prefix: false)])
            #expect(created.succeeded)
            let again = try await client.transaction(
                compare: [.createRevision(key: "/t/k/2", equals: 0)], success: [.put(key: "/t/k/2", value: [3], lease: 0)],
                failure: [.range(key: "/t/k/2", prefix: false)])
            #expect(!again.succeeded)
            guard case .range(let found) = again.results.first else { Issue.record("no range: \(again)"); return }
            #expect(found.map(\.value) == [[2]])
            let (keys, revision) = try await client.range("/t/k/", prefix: true)
            #expect(keys.map(\.key) == ["/t/k/1", "/t/k/2"])
            #expect(keys.first?.lease == lease)

            // A watch from the next revision sees the revocation's delete and a new put, in order.
            let seen = Mutex<[EtcdWatchEvent]>([])
            let watching = Task {
                try await client.watch(prefix: "/t/k/", startRevision: revision + 1) { batch in seen.withLock { $0 += batch.events } }
            }
            try await client.revokeLease(lease)
            try await client.revokeLease(lease)  // gone already: no error
            await #expect(throws: EtcdError.leaseExpired(lease)) { try await client.keepAlive(lease: lease) }
            try await client.put("/t/k/3", value: [3])
            #expect(try await eventually { seen.withLock { $0.count } == 2 })
            #expect(seen.withLock { $0.map { "\($0.kind) \($0.keyValue.key)" } } == ["delete /t/k/1", "put /t/k/3"])
            watching.cancel()
            #expect(try await client.delete("/t/k/", prefix: true) == 2)

            // Compacted past the start revision: the watch says so (the directory then re-reads).
            let now = try await client.range("/t/", prefix: true).revision
            try await client.compact(revision: now)
            await #expect(throws: EtcdError.compacted(revision: now)) {
                try await client.watch(prefix: "/t/", startRevision: revision) { _ in }
            }
        }
    }
}
#endif
