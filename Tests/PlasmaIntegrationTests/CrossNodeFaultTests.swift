#if Cluster
import Foundation
import Glibc
import PlasmaClient
import PlasmaCore
import PlasmaTestSupport
import Testing

extension IntegrationTests {
    /// Nodes and etcd that die, stop or come back while objects cross between `plasma-store --cluster`
    /// processes (issue #15, item 6).
    @Suite struct CrossNodeFaultTests {
        let big = 256 << 20

        /// Polls without sleeping between reads (a pull of `big` bytes may take only tens of ms).
        func soon(timeout: TimeInterval = 30, _ condition: () throws -> Bool) rethrows -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if try condition() { return true }
                usleep(200)
            }
            return try condition()
        }

        /// Freezes `origin` once `puller` holds the partial copy of what it pulls, and checks that the
        /// pull was then unfinished (the origin can't send another byte, and `big` is far more than the
        /// socket buffers). The puller reserves the copy's block only after the origin's reply header
        /// (docs/TRANSFER.md), so the freeze lands in the stream of bytes. Frozen as soon as the pull
        /// started, it landed in the handshake most of the time (seen with `ss -ti`: a few dozen bytes
        /// exchanged).
        func freezeMidTransfer(_ origin: StoreProcess, puller: StoreProcess) throws {
            try #require(try soon { try puller.stats().createdObjects >= 1 }, "\(puller.log.suffix(2000))")
            origin.signal(SIGSTOP)
            let stats = try puller.stats()
            try #require(stats.clusterPullsSucceeded == 0, "the pull finished before the origin was stopped")
        }

        @Test func theOriginKilledMidTransferIsReplacedByASecondCopyWithTheSameBytes() throws {
            let cluster = try CrossNodeCluster()
            let a = try cluster.start("a", memory: "300M", leaseTTL: 2)
            let (b, c) = (try cluster.start("b", memory: "300M"), try cluster.start("c", memory: "300M"))
            let id = seededID(0x4a)
            try a.putSeeded(id, size: big, seed: 7)

            let waiting = backgroundGet(b, id, timeout: .seconds(120), size: big, seeds: [7])
            try freezeMidTransfer(a, puller: b)
            try c.putSeeded(id, size: big, seed: 7)
            #expect(try eventually(timeout: 30) { try cluster.keys("locations/").contains("\(id.hex)/c") })
            a.kill9()

            #expect(try waiting.value(timeout: 150) == .seededBytes(seed: 7))
            let stats = try b.stats()
            #expect(stats.clusterPullsFailed >= 1 && stats.clusterPullsSucceeded == 1, "\(stats)")
            #expect(try b.connect().listWithOrigins().first { $0.id == id }?.origin == "c")
            #expect(try eventually(timeout: 30) { try !cluster.keys("nodes/").contains("a") }, "a's lease outlived it")
            #expect(try b.stats().createdObjects == 0)
            #expect(try eventually(timeout: 30) { try b.stats().clusterPinnedObjects == 0 && c.stats().clusterPinnedObjects == 0 })
            #expect(try eventually(timeout: 30) { try cluster.keys("wants/").isEmpty && cluster.keys("locations/").isEmpty })
            for store in [b, c] { #expect(store.stop() == 0) }
            for folder in ["nodes/", "wants/", "locations/", "first/"] { #expect(try cluster.keys(folder).isEmpty, "\(folder)") }
        }

        @Test func theOriginKilledMidTransferWithoutASecondCopyLeavesTheGetToTimeOutAndNothingBehind() throws {
            let cluster = try CrossNodeCluster()
            let a = try cluster.start("a", memory: "300M", leaseTTL: 2)
            let b = try cluster.start("b", memory: "300M")
            let id = seededID(0x4b)
            try a.putSeeded(id, size: big, seed: 8)
            let baseline = try b.stats()

            let waiting = backgroundGet(b, id, timeout: .seconds(10), size: big, seeds: [8])
            try freezeMidTransfer(a, puller: b)
            a.kill9()
            #expect(try eventually(timeout: 30) { try b.stats().clusterPullsFailed >= 1 }, "\(b.log.suffix(2000))")
            #expect(try waiting.value(timeout: 60) == .absent)

            let stats = try b.stats()
            #expect(stats.clusterPullsSucceeded == 0)
            #expect(stats.createdObjects == 0 && stats.sealedObjects == baseline.sealedObjects, "\(stats)")
            #expect(stats.bytesInUse == baseline.bytesInUse && stats.arenaBytesAllocated == baseline.arenaBytesAllocated, "\(stats)")
            #expect(stats.clusterPinnedObjects == 0)
            #expect(try eventually(timeout: 30) { try cluster.keys("wants/").isEmpty && cluster.keys("locations/").isEmpty && cluster.keys("nodes/") == ["b"] })
            #expect(b.stop() == 0)
            for folder in ["nodes/", "wants/", "locations/", "first/"] { #expect(try cluster.keys(folder).isEmpty, "\(folder)") }
        }

        @Test func aStoppedNodesLeaseExpiresAndNoWaiterIsAnsweredWithItsObject() throws {
            let cluster = try CrossNodeCluster()
            let otherToken = try CrossNodeCluster.tokenFile("a secret the others don't share")
            defer { unlink(otherToken) }
            let a = try cluster.start("a", leaseTTL: 2)
            let b = try cluster.start("b")
            // The intruder can't pull, so its want stays and keeps a's location published.
            let intruder = try cluster.start("intruder", token: otherToken)
            let id = seededID(0x5)
            let stuck = backgroundGet(intruder, id, timeout: .seconds(120), size: 4096, seeds: [9])
            try a.putSeeded(id, size: 4096, seed: 9)
            #expect(try eventually(timeout: 30) { try cluster.keys("locations/") == ["\(id.hex)/a"] })

            a.signal(SIGSTOP)
            defer { a.signal(SIGCONT) }
            #expect(try eventually(timeout: 30) { try cluster.keys("locations/").isEmpty && !cluster.listedNodes().contains("a") })
            #expect(try backgroundGet(b, id, timeout: .seconds(3), size: 4096, seeds: [9]).value(timeout: 60) == .absent)
            #expect(try b.stats().clusterPullsStarted == 0, "b tried the dead node")

            // Back from the dead: a finds its lease gone, registers again and publishes for the wants.
            a.signal(SIGCONT)
            #expect(a.waitForLog("reconnected to etcd", timeout: 30), "\(a.log.suffix(2000))")
            #expect(try cluster.listedNodes().contains("a"))
            #expect(try backgroundGet(b, id, timeout: .seconds(60), size: 4096, seeds: [9]).value(timeout: 90) == .seededBytes(seed: 9))

            #expect(intruder.stop() == 0)
            #expect(throws: (any Error).self) { try stuck.value(timeout: 30) }  // disconnected, never answered
            #expect(try eventually(timeout: 30) { try a.stats().clusterPinnedObjects == 0 })
            for store in [a, b] { #expect(store.stop() == 0) }
            for folder in ["nodes/", "wants/", "locations/", "first/"] { #expect(try cluster.keys(folder).isEmpty, "\(folder)") }
        }

        @Test func etcdStoppedAndRestartedWhileStoresServeAndAWantMadeMeanwhileIsServed() throws {
            let cluster = try CrossNodeCluster()
            let (a, b) = (try cluster.start("a", leaseTTL: 3), try cluster.start("b", leaseTTL: 3))
            let (local, remote) = (seededID(0x6a), seededID(0x6b))

            cluster.etcd.stop()
            try a.putSeeded(local, size: 4096, seed: 10)
            #expect(try a.connect().get(local, timeout: .no) != nil, "local service stopped with etcd")
            let waiting = backgroundGet(b, remote, timeout: .seconds(120), size: 1 << 20, seeds: [11])
            #expect(try eventually(timeout: 30) { try b.stats().pendingGets == 1 })
            try a.putSeeded(remote, size: 1 << 20, seed: 11)
            for store in [a, b] { #expect(store.waitForLog("lost etcd", timeout: 30), "\(store.log.suffix(2000))") }

            try cluster.etcd.start()
            for store in [a, b] { #expect(store.waitForLog("reconnected to etcd", timeout: 60), "\(store.log.suffix(2000))") }
            #expect(try cluster.listedNodes() == ["a", "b"])
            #expect(try waiting.value(timeout: 150) == .seededBytes(seed: 11))
            #expect(try b.connect().listWithOrigins().first { $0.id == remote }?.origin == "a")

            #expect(try eventually(timeout: 30) { try a.stats().clusterPinnedObjects == 0 })
            #expect(try eventually(timeout: 30) { try cluster.keys("wants/").isEmpty && cluster.keys("locations/").isEmpty })
            for store in [a, b] { #expect(store.stop() == 0) }
            for folder in ["nodes/", "wants/", "locations/", "first/"] { #expect(try cluster.keys(folder).isEmpty, "\(folder)") }
        }
    }
}
#endif
