import Foundation
import PlasmaClient
import PlasmaClusterCore
import PlasmaCore
import PlasmaPosix
@testable import PlasmaStore
import PlasmaTransfer
import PlasmaWire
import Synchronization
import Testing

/// The store's side of a cluster (StoreServer+Cluster.swift) in a real server with real client
/// connections, its directory and puller replaced by in-process doubles (ClusterFakes.swift).
@Suite struct StoreClusterTests {
    private func id(_ seed: UInt8) -> ObjectID { ObjectID(bytes: [UInt8](repeating: seed, count: ObjectID.byteCount))! }

    private func xxh64(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { XXH64.hash($0) } }

    private func location(_ id: ObjectID, on node: String, data: [UInt8], metadata: [UInt8] = []) -> ClusterLocation {
        ClusterLocation(id: id, node: node, transferAddress: "127.0.0.1:74\(node.count)", dataSize: data.count,
                        metadataSize: metadata.count, checksum: xxh64(data + metadata))
    }

    /// A get on its own connection and thread; `wait()` gives its data and metadata (nil: not found).
    private final class BackgroundGet: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var result: (data: [UInt8], metadata: [UInt8])?
        private var failure: Error?

        init(_ socketPath: String, _ id: ObjectID, timeout: Wait) {
            Thread.detachNewThread { [self] in
                do {
                    let client = try PlasmaClient(socketPath: socketPath)
                    if let buffer = try client.get(id, timeout: timeout) {
                        result = (buffer.copyBytes(), buffer.copyMetadata())
                    }
                    client.close()
                } catch {
                    failure = error
                }
                done.signal()
            }
        }

        func wait() throws -> (data: [UInt8], metadata: [UInt8])? {
            done.wait()
            if let failure { throw failure }
            return result
        }
    }

    @Test func aGetWaitingBeforeTheLocationIsAnsweredWithThePulledCopy() throws {
        let directory = FakeDirectory()
        let puller = FakePuller()
        let store = try InProcessStore(cluster: ClusterAttachment(directory: directory, puller: puller))
        let wanted = id(1)
        let (data, metadata) = ([UInt8](repeating: 0xA5, count: 300_000), [UInt8]([1, 2, 3]))
        puller.set("a", .serve(data + metadata))
        let get = BackgroundGet(store.socketPath, wanted, timeout: .seconds(60))
        #expect(eventually { directory.wanted(wanted) }, "the waiting get made a want")
        #expect(directory.calls.contains(.flush))
        directory.inject([.located(location(wanted, on: "a", data: data, metadata: metadata))])
        let got = try get.wait()
        #expect(got?.data == data && got?.metadata == metadata, "woken with the pulled bytes")
        #expect(eventually { directory.unwanted(wanted) }, "the want dropped once the copy is sealed")
        let client = try PlasmaClient(socketPath: store.socketPath)
        let statistics = try client.statistics()
        #expect(statistics.clusterPullsStarted == 1 && statistics.clusterPullsSucceeded == 1)
        #expect(statistics.clusterPulledBytes == Int64(data.count + metadata.count))
        #expect(statistics.clusterWantsPublished == 1)
        #expect(try client.list().map(\.id) == [wanted])
        #expect(try client.listWithOrigins().map(\.origin) == ["a"], "list shows where the copy came from")
        client.close()
        store.stop()
        #expect(store.server.engine.origin(of: wanted) == "a")
        #expect(store.server.engine.checkInvariants())
    }

    @Test func aFailedPullFallsOverToTheNextLocation() throws {
        let directory = FakeDirectory()
        let puller = FakePuller()
        let store = try InProcessStore(cluster: ClusterAttachment(directory: directory, puller: puller))
        let wanted = id(2)
        let data = [UInt8](repeating: 0x3C, count: 4096)
        puller.set("a", .fail(.connection("reset by peer"), partial: 1000))
        puller.set("c", .serve(data))
        let get = BackgroundGet(store.socketPath, wanted, timeout: .seconds(60))
        #expect(eventually { directory.wanted(wanted) })
        directory.inject([.located(location(wanted, on: "a", data: data)), .located(location(wanted, on: "c", data: data))])
        #expect(try get.wait()?.data == data)
        #expect(puller.pulls == ["a", "c"])
        let client = try PlasmaClient(socketPath: store.socketPath)
        let statistics = try client.statistics()
        #expect(statistics.clusterPullsStarted == 2 && statistics.clusterPullsFailed == 1 && statistics.clusterPullsSucceeded == 1)
        client.close()
        store.stop()
        #expect(store.server.engine.origin(of: wanted) == "c")
    }

    @Test func aFailedLocationIsAskedForAgainWhileTheGetWaits() throws {
        let directory = FakeDirectory()
        let puller = FakePuller()
        let store = try InProcessStore(cluster: ClusterAttachment(directory: directory, puller: puller))
        let wanted = id(12)
        let data = [UInt8](repeating: 0x5A, count: 8192)
        puller.set("a", .fail(.connection("connection refused: its listener is not up yet"), partial: 0))
        let get = BackgroundGet(store.socketPath, wanted, timeout: .seconds(60))
        #expect(eventually { directory.wanted(wanted) })
        directory.inject([.located(location(wanted, on: "a", data: data))])
        #expect(eventually { puller.pulls == ["a"] }, "the first pull was refused")
        puller.set("a", .serve(data))  // a's listener is up now; nobody seals anything new
        // The directory reports a location once: the store asks it again, and it answers as it would.
        #expect(eventually { directory.calls.contains(.relocate([wanted])) }, "the failed location is asked for again")
        directory.inject([.located(location(wanted, on: "a", data: data))])
        #expect(try get.wait()?.data == data, "answered by the retried location")
        #expect(puller.pulls == ["a", "a"])
        #expect(eventually { directory.unwanted(wanted) })
        let client = try PlasmaClient(socketPath: store.socketPath)
        let statistics = try client.statistics()
        #expect(statistics.clusterPullsFailed == 1 && statistics.clusterPullsSucceeded == 1)
        client.close()
        store.stop()
        #expect(store.server.engine.checkInvariants())
    }

    @Test func aChecksumFailureLeavesNoPartialObjectAndTheGetTimesOut() throws {
        let directory = FakeDirectory()
        let puller = FakePuller()
        let store = try InProcessStore(cluster: ClusterAttachment(directory: directory, puller: puller))
        let baseline = store.server.statistics
        let wanted = id(3)
        let data = [UInt8](repeating: 0x77, count: 10_000)
        puller.set("a", .fail(.checksumMismatch(expected: 1, actual: 2), partial: 10_000))
        let get = BackgroundGet(store.socketPath, wanted, timeout: .milliseconds(500))
        #expect(eventually { directory.wanted(wanted) })
        directory.inject([.located(location(wanted, on: "a", data: data))])
        #expect(try get.wait() == nil, "no copy was sealed: the get timed out")
        #expect(eventually { directory.unwanted(wanted) }, "the want went with the last waiter")
        let client = try PlasmaClient(socketPath: store.socketPath)
        let statistics = try client.statistics()
        #expect(statistics.clusterPullsFailed == 1 && statistics.clusterPullsSucceeded == 0)
        #expect(statistics.createdObjects == 0 && statistics.sealedObjects == 0)
        #expect(statistics.bytesInUse == 0 && statistics.arenaBytesAllocated == baseline.arenaBytesAllocated)
        #expect(try client.list().isEmpty)
        client.close()
        store.stop()
        #expect(store.server.engine.checkInvariants())
    }

    @Test func aRemoteWantPublishesOnceWithTheChecksumAndADeleteUnpublishes() throws {
        let directory = FakeDirectory()
        let store = try InProcessStore(cluster: ClusterAttachment(directory: directory, puller: FakePuller()))
        let client = try PlasmaClient(socketPath: store.socketPath)
        let (small, big, later) = (id(4), id(5), id(6))
        let smallData = [UInt8](repeating: 9, count: 1000)
        let bigData = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }  // hashed off the loop
        try client.put(small, bytes: smallData, metadata: [7, 7])
        try client.put(big, bytes: bigData)
        directory.inject([.wanted(small, byNode: "a"), .wanted(small, byNode: "c"), .wanted(big, byNode: "a"),
                          .wanted(later, byNode: "a")])
        #expect(eventually { directory.published.count == 3 })
        let bySmall = directory.published.first { $0.id == small }
        #expect(bySmall == ClusterLocation(id: small, node: "b", transferAddress: "127.0.0.1:7402", dataSize: 1000,
                                           metadataSize: 2, checksum: xxh64(smallData + [7, 7])))
        // Big: published at once, before it is hashed, then again with the checksum from the hasher.
        #expect(directory.published.filter { $0.id == big }.map(\.checksum) == [nil, xxh64(bigData)])
        // Sealed here after it was wanted: published then.
        try client.put(later, bytes: [1, 2, 3])
        #expect(eventually { directory.published.count == 4 })
        directory.inject([.wanted(small, byNode: "d")])
        #expect(try client.delete([small]) == [.ok])
        #expect(eventually { directory.unpublished(small) })
        #expect(directory.published.filter { $0.id == small }.count == 1, "published once")
        #expect(try client.statistics().clusterLocationsPublished == 3)
        #expect(try client.statistics().clusterPinnedObjects == 0, "the hasher's pin was let go")
        client.close()
        store.stop()
    }

    /// An id deleted and sealed again (other bytes) in one pass: it was offered while still marked
    /// published, then unpublished, and never published again, so the other node's get waited out.
    @Test func anIDDeletedAndSealedAgainInOnePassIsPublishedWithItsNewBytes() throws {
        let directory = FakeDirectory()
        let store = try InProcessStore(cluster: ClusterAttachment(directory: directory, puller: FakePuller()))
        let client = try PlasmaClient(socketPath: store.socketPath)
        let again = id(10)
        try client.put(again, bytes: [1, 2, 3])
        directory.inject([.wanted(again, byNode: "a")])
        #expect(eventually { directory.published.count == 1 })
        // Both frames in one write (Arrow's inline create-and-seal): read and run in one pass.
        let arrow = try UnixSocket.connect(path: store.socketPath)
        let frames = ArrowRequest.delete(ids: [again]).encode()
            + ArrowRequest.createAndSeal(id: again, evictIfFull: false, data: [4, 5, 6, 7], metadata: [], digest: [UInt8](repeating: 0, count: 8)).encode()
        try frames.withUnsafeBytes { try arrow.writeAll($0) }
        #expect(eventually { directory.published.count == 2 })
        #expect(directory.published.last == ClusterLocation(
            id: again, node: "b", transferAddress: "127.0.0.1:7402", dataSize: 4, metadataSize: 0, checksum: xxh64([4, 5, 6, 7])))
        arrow.close()
        client.close()
        store.stop()
    }

    @Test func pinsForPeersAreBalancedAndADeleteWaitsForTheUnpin() throws {
        let directory = FakeDirectory()
        let store = try InProcessStore(cluster: ClusterAttachment(directory: directory, puller: FakePuller()))
        let source = try #require(store.server.transferObjectSource)
        let client = try PlasmaClient(socketPath: store.socketPath)
        let held = id(7)
        let data = [UInt8](repeating: 0x42, count: 5000)
        try client.put(held, bytes: data, metadata: [5])
        #expect(source.pin(id(8)) == nil, "absent")
        let pinned = try #require(source.pin(held))
        #expect(pinned.dataSize == 5000 && pinned.metadataSize == 1 && Array(pinned.bytes) == data + [5])
        #expect(try client.statistics().clusterPinnedObjects == 1)
        #expect(try client.delete([held]) == [.deletionDeferred])
        #expect(try client.contains(held))
        source.unpin(pinned)
        #expect(eventually { (try? client.contains(held)) == false }, "deleted at the unpin")
        #expect(try client.statistics().clusterPinnedObjects == 0)
        client.close()
        store.stop()
        #expect(source.pin(held) == nil, "a stopped store pins nothing")
        #expect(store.server.engine.checkInvariants())
    }

    /// A big object's checksum (for `first/`) is computed once its due time has come and no peer is
    /// pulling it (hashing at once took a CPU from the pull on a 2-core machine), and at the latest
    /// after `HashDue.maximumDelay` even while pulls go on.
    @Test func aBigObjectIsHashedOnceNoPeerIsPullingItOrAtTheLatest() throws {
        let directory = FakeDirectory()
        let store = try InProcessStore(cluster: ClusterAttachment(directory: directory, puller: FakePuller()))
        let source = try #require(store.server.transferObjectSource)
        let client = try PlasmaClient(socketPath: store.socketPath)
        let (released, held) = (id(11), id(12))
        let releasedData = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let heldData = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        try client.put(released, bytes: releasedData)
        try client.put(held, bytes: heldData)
        directory.inject([.wanted(released, byNode: "a"), .wanted(held, byNode: "a")])
        #expect(eventually { directory.published.count == 2 })
        #expect(directory.published.allSatisfy { $0.checksum == nil })
        let pulls = (try #require(source.pin(released)), try #require(source.pin(held)))  // peers' pulls began
        // Well past the due time (below the latest), the loop kept busy: both wait for their pulls.
        let past = ContinuousClock.now + .nanoseconds(Int64(HashDue.delay) * 4)
        while ContinuousClock.now < past { _ = try client.contains(released) }
        #expect(directory.published.count == 2)
        #expect(try client.statistics().clusterPinnedObjects == 2, "the peers' pins alone: no hash under way")
        source.unpin(pulls.0)
        #expect(eventually { directory.published.contains { $0.id == released && $0.checksum == xxh64(releasedData) } })
        // Started by the unpin, not by its latest time (~0.8 s away; the hash of 3 MiB takes milliseconds).
        #expect(!directory.published.contains { $0.id == held && $0.checksum != nil })
        // The other pull goes on: hashed at its latest time all the same.
        #expect(eventually { directory.published.contains { $0.id == held && $0.checksum == xxh64(heldData) } })
        source.unpin(pulls.1)
        #expect(eventually { (try? client.statistics().clusterPinnedObjects) == 0 })
        client.close()
        store.stop()
        #expect(store.server.engine.checkInvariants())
    }

    @Test func aGoneLocationIsNotTriedAndRefusalsAreCounted() throws {
        let directory = FakeDirectory()
        let puller = FakePuller()
        let store = try InProcessStore(cluster: ClusterAttachment(directory: directory, puller: puller))
        let wanted = id(10)
        let data = [UInt8](repeating: 0x11, count: 2000)
        puller.set("a", .hold)
        puller.set("c", .serve(data))
        directory.inject([.publishRefused(id(11), firstNode: "a"), .disconnected, .reconnected])
        let client = try PlasmaClient(socketPath: store.socketPath)
        #expect(eventually { (try? client.statistics().clusterPublishesRefused) == 1 }, "the refusal is counted")
        let get = BackgroundGet(store.socketPath, wanted, timeout: .milliseconds(800))
        #expect(eventually { directory.wanted(wanted) })
        directory.inject([.located(location(wanted, on: "a", data: data))])
        #expect(eventually { puller.isHolding("a") }, "pulling from a")
        // c is known while a's pull is under way, then gone: a's failure must not fall over to it.
        directory.inject([.located(location(wanted, on: "c", data: data)), .locationGone(wanted, node: "c")])
        // The mailbox is in order: these events are handled before the failure released below.
        #expect(puller.release(node: "a", with: .failure(.connection("killed"))))
        #expect(try get.wait() == nil, "no location left: the get timed out")
        #expect(puller.pulls == ["a"])
        #expect(eventually { directory.unwanted(wanted) })
        #expect(try client.statistics().createdObjects == 0)
        client.close()
        store.stop()
        #expect(store.server.engine.checkInvariants())
    }

    /// Review finding "Forged sizes make room": a location's sizes come from etcd. The store reserves
    /// the copy only once the holder's authenticated reply confirmed them, so a location for a wanted
    /// id whose sizes are forged (here 12 MiB for an object of 4 KiB, in a full 16 MiB store of
    /// evictable objects) makes no room: nothing reserved, nothing evicted. (Reserving first evicted
    /// eight of the twelve objects.)
    @Test func aLocationWithForgedSizesReservesNothingAndEvictsNothing() throws {
        let directory = FakeDirectory()
        let holder = try TransferTests.Peer(sourceSize: 1 << 20)
        let held = holder.addObject(size: 4096, seed: 41)
        let puller = try TransferTests.puller()
        let store = try InProcessStore(capacity: 16 << 20, cluster: ClusterAttachment(directory: directory, puller: puller))
        let client = try PlasmaClient(socketPath: store.socketPath)
        for seed in 0..<12 { try client.put(id(UInt8(100 + seed)), bytes: [UInt8](repeating: UInt8(seed), count: 1 << 20)) }
        let before = try client.statistics()
        let get = BackgroundGet(store.socketPath, held.id, timeout: .milliseconds(1500))
        #expect(eventually { directory.wanted(held.id) })
        var forged = held
        forged.dataSize = 12 << 20
        directory.inject([.located(forged)])
        #expect(eventually { (try? client.statistics().clusterPullsFailed) == 1 }, "the pull failed")
        #expect(try get.wait() == nil, "no copy: the get timed out")
        let after = try client.statistics()
        #expect(after.evictedObjects == before.evictedObjects, "nothing was evicted to make room")
        #expect(after.createdObjects == before.createdObjects, "no copy was reserved")
        #expect(after.arenaBytesAllocated == before.arenaBytesAllocated)
        #expect(try client.list().count == 12)
        #expect(holder.server.statistics.pullsNotHeld == 1, "the holder said it holds other sizes")
        client.close()
        puller.stop()
        holder.server.stop()
        store.stop()
        #expect(store.server.engine.checkInvariants())
    }

    /// The same object pulled through the real puller: the block is reserved once the holder confirmed
    /// the sizes, sealed, and its checksum is the location's.
    @Test func aRealPullReservesAfterTheReplyAndSealsTheCopy() throws {
        let directory = FakeDirectory()
        let holder = try TransferTests.Peer(sourceSize: 1 << 20)
        let held = holder.addObject(size: 300_000, metadataSize: 1000, seed: 42)
        let puller = try TransferTests.puller()
        let store = try InProcessStore(capacity: 16 << 20, cluster: ClusterAttachment(directory: directory, puller: puller))
        let get = BackgroundGet(store.socketPath, held.id, timeout: .seconds(60))
        #expect(eventually { directory.wanted(held.id) })
        directory.inject([.located(held)])
        let got = try get.wait()
        #expect(got.map { xxh64($0.data + $0.metadata) } == held.checksum, "woken with the pulled bytes")
        #expect(store.server.engine.origin(of: held.id) == "a")
        puller.stop()
        holder.server.stop()
        store.stop()
        #expect(store.server.engine.checkInvariants())
    }

    @Test func withoutAClusterNothingOfItRuns() throws {
        let store = try InProcessStore(cluster: nil)
        #expect(store.server.transferObjectSource == nil)
        let get = BackgroundGet(store.socketPath, id(9), timeout: .milliseconds(50))
        #expect(try get.wait() == nil)
        store.stop()
        #expect(!store.server.engine.isClustered)
    }
}
