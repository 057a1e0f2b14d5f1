import Foundation
import Glibc
import PlasmaClusterCore
import PlasmaCore
import PlasmaPosix
import PlasmaTestSupport
@testable import PlasmaTransfer
import Testing

/// The transfer port's places (docs/SECURITY.md, "The transfer port"): connections in the handshake
/// from many addresses can't keep a token holder out (the oldest makes room for a newcomer), and one
/// node can't take every serving place. The rules alone, then through real loopback TCP.
@Suite struct TransferAdmissionTests {
    static let limits = TransferAdmission.Limits(serving: 3, servingPerNode: 2, handshakes: 2, handshakesPerAddress: 2)

    @Test func aFullHandshakePoolEvictsTheOldestOfTheBusiestAddressForANewcomer() {
        var admission = TransferAdmission(limits: Self.limits)
        #expect(admission.arrive(host: "10.0.0.1") == .admitted(id: 1, evicting: nil))
        #expect(admission.arrive(host: "10.0.0.2") == .admitted(id: 2, evicting: nil))
        #expect(admission.arrive(host: "10.0.0.3") == .admitted(id: 3, evicting: 1), "one each: the oldest goes")
        #expect(admission.handshaking == 2)
        // The evicted one's proof, arriving late, doesn't make it served.
        #expect(admission.authenticated(1, node: "b") == .evicted)
        #expect(admission.arrive(host: "10.0.0.4") == .admitted(id: 4, evicting: 2))
        // A handshake that ends leaves room without evicting anyone.
        #expect(admission.authenticated(3, node: "b") == .serving(evicting: nil))
        #expect(admission.arrive(host: "10.0.0.5") == .admitted(id: 5, evicting: nil))
        for id in 1...2 { admission.left(id) }
        #expect(admission.phases.count == 3)
    }

    @Test func silentConnectionsFromTwoAddressesEvictEachOtherNotATokenHoldersFromAThird() {
        var admission = TransferAdmission(limits: .init(serving: 8, servingPerNode: 8, handshakes: 4, handshakesPerAddress: 2))
        #expect(admission.arrive(host: "10.0.0.1") == .admitted(id: 1, evicting: nil))
        #expect(admission.arrive(host: "10.0.0.1") == .admitted(id: 2, evicting: nil))
        #expect(admission.arrive(host: "10.0.0.9") == .admitted(id: 3, evicting: nil), "the token holder")
        #expect(admission.arrive(host: "10.0.0.2") == .admitted(id: 4, evicting: nil))
        // Full. The attackers' next connections push out their own, oldest first, never the holder's.
        #expect(admission.arrive(host: "10.0.0.2") == .admitted(id: 5, evicting: 1))
        #expect(admission.arrive(host: "10.0.0.1") == .admitted(id: 6, evicting: 4))
        #expect(admission.arrive(host: "10.0.0.1") == .addressBusy)
        #expect(admission.arrive(host: "10.0.0.2") == .admitted(id: 7, evicting: 2))
        #expect(admission.authenticated(3, node: "b") == .serving(evicting: nil))
    }

    @Test func oneAddressTakesAtMostItsShareOfTheHandshakes() {
        var admission = TransferAdmission(limits: .init(serving: 3, servingPerNode: 2, handshakes: 4, handshakesPerAddress: 2))
        #expect(admission.arrive(host: "10.0.0.1") == .admitted(id: 1, evicting: nil))
        #expect(admission.arrive(host: "10.0.0.1") == .admitted(id: 2, evicting: nil))
        #expect(admission.arrive(host: "10.0.0.1") == .addressBusy)
        admission.handshakeFailed(1)
        #expect(admission.arrive(host: "10.0.0.1") == .admitted(id: 3, evicting: nil), "a failed handshake frees its host's place")
    }

    @Test func aNodeAtItsShareReplacesItsOldestIdleConnectionAndIsRefusedWhenAllAreBusy() {
        var admission = TransferAdmission(limits: .init(serving: 4, servingPerNode: 2, handshakes: 8, handshakesPerAddress: 8))
        for id in 1...6 { #expect(admission.arrive(host: "10.0.0.1") == .admitted(id: id, evicting: nil)) }
        #expect(admission.authenticated(1, node: "b") == .serving(evicting: nil))
        #expect(admission.authenticated(2, node: "b") == .serving(evicting: nil))
        let began2 = admission.pullBegan(2)
        #expect(began2)
        // b is at its share: its idle connection (1) makes room; then both are busy and the next is refused.
        #expect(admission.authenticated(3, node: "b") == .serving(evicting: 1))
        let began1 = admission.pullBegan(1), began3 = admission.pullBegan(3)
        #expect(!began1, "an evicted connection serves no pull")
        #expect(began3)
        #expect(admission.authenticated(4, node: "b") == .nodeBusy)
        admission.pullEnded(2)
        #expect(admission.authenticated(5, node: "b") == .serving(evicting: 2), "idle again")
        #expect(admission.authenticated(6, node: "c") == .serving(evicting: nil), "another node has its own share")
        #expect(admission.serving == 3)
        for id in 1...6 { admission.left(id) }
        #expect(admission.phases.isEmpty && admission.handshaking == 0 && admission.serving == 0)
    }

    @Test func everyServingPlaceTakenRefusesNewcomersAtOnce() {
        var admission = TransferAdmission(limits: .init(serving: 2, servingPerNode: 2, handshakes: 8, handshakesPerAddress: 8))
        for id in 1...3 { #expect(admission.arrive(host: "10.0.0.1") == .admitted(id: id, evicting: nil)) }
        #expect(admission.authenticated(1, node: "b") == .serving(evicting: nil))
        #expect(admission.authenticated(2, node: "c") == .serving(evicting: nil))
        #expect(admission.authenticated(3, node: "d") == .full, "a handshake that ends after the last place went")
        #expect(admission.arrive(host: "10.0.0.2") == .full)
        admission.left(1)
        #expect(admission.arrive(host: "10.0.0.2") == .admitted(id: 4, evicting: nil))
    }

    @Test func connectionsOnTheirWayOutAreBoundedToo() {
        var admission = TransferAdmission(limits: Self.limits)
        // Each arrival beyond two evicts one whose thread hasn't left yet: at most serving + 2 × handshakes
        // connections exist at once.
        var admitted = 0, crowded = 0
        for index in 0..<20 {
            switch admission.arrive(host: "10.0.0.\(index)") {
            case .admitted: admitted += 1
            case .crowded: crowded += 1
            default: break
            }
        }
        #expect(admitted == Self.limits.serving + 2 * Self.limits.handshakes)
        #expect(crowded == 20 - admitted)
        #expect(admission.phases.count == admitted)
        #expect(admission.handshaking == 2)
    }

    // MARK: through the server

    @Test func silentConnectionsFromManyAddressesCantKeepATokenHolderOut() throws {
        let peer = try TransferTests.Peer(sourceSize: 1 << 20) {
            $0.maxHandshakes = 4
            $0.maxHandshakesPerAddress = 2
            $0.handshakeTimeout = .seconds(60)  // the silent ones would stay until closed
        }
        let location = peer.addObject(size: 4096, seed: 61)
        let destination = try Arena(size: 1 << 20, options: .init(prefault: true))
        let buffer = UnsafeMutableRawBufferPointer(start: destination.base, count: location.totalSize)
        // Two silent connections from each of six loopback addresses: twelve, three times the pool.
        let port = peer.server.port
        var silent: [Int32] = []
        defer { for descriptor in silent { close(descriptor) } }
        for host in 2...7 {
            for _ in 0..<2 { silent.append(try #require(loopbackConnection(from: "127.0.0.\(host)", toPort: port))) }
        }
        #expect(eventually { peer.server.statistics.connectionsAccepted == 12 })
        var statistics = peer.server.statistics
        #expect(statistics.handshakesEvicted == 8, "twelve arrivals, four places")
        #expect(eventually { peer.server.statistics.activeConnections == 4 }, "the evicted ones' threads end")
        // The server closed each evicted connection: eight of the twelve read their end.
        #expect(eventually { silent.filter(Self.closedByPeer).count == 8 })

        // A token holder gets in while the four silent ones are still there, and is served.
        let puller = try TransferTests.puller()
        #expect(try TransferTests.pull(puller, PullTarget(location: location, buffer: buffer))?.get() == PulledCopy(checksum: location.checksum!))
        statistics = peer.server.statistics
        #expect(statistics.handshakesEvicted == 9, "the puller's connection took a silent one's place")
        #expect(statistics.connectionsRefused == 0 && statistics.connectionsRefusedForAddress == 0)
        #expect(statistics.connectionsRefusedForPlace == 9)
        puller.stop()
        peer.server.stop()
        #expect(peer.server.statistics.activeConnections == 0)
    }

    @Test func aNodeAtItsShareReplacesItsIdleConnectionOrIsTurnedAwayInTheHandshakeWhenItIsBusy() throws {
        let peer = try TransferTests.Peer(sourceSize: 32 << 20) {
            $0.maxConnectionsPerNode = 1
            $0.sendTimeout = .seconds(60)  // the busy connection stays busy until the test closes it
        }
        let endpoint = TCPEndpoint(parsing: peer.address)!
        let handshake = TransferHandshake(token: TransferTests.token, nodeName: "b")
        func authenticated() throws -> (TCPSocket, TransferSession) {
            let socket = try TCPSocket.connect(to: endpoint, timeout: .seconds(30))
            try socket.setTimeouts(receive: .seconds(30), send: .seconds(30))
            let (_, session) = try handshake.runAsClient(on: socket, before: MonotonicClock.nanoseconds() &+ 30_000_000_000)
            return (socket, session)
        }
        func ask(_ socket: TCPSocket, _ session: TransferSession, for id: ObjectID, size: Int) throws {
            try socket.send(session.sealRequest(TransferWire.Request(id: id, dataSize: size, metadataSize: 0).encoded))
        }
        // An idle connection: its one request (an absent id) is answered, so the server serves it.
        let (idle, idleSession) = try authenticated()
        defer { idle.close() }
        try ask(idle, idleSession, for: ObjectID.random(), size: 1)
        var header = [UInt8](repeating: 0, count: 1)
        let answered = try header.withUnsafeMutableBytes { try idle.receiveExactly(into: $0) }
        #expect(answered)
        // b's next connection takes the idle one's place: the server closes that one.
        let (busy, busySession) = try authenticated()
        defer { busy.close() }
        #expect(eventually { peer.server.statistics.connectionsRefusedForNode == 1 })
        #expect(eventually { Self.closedByPeer(idle.rawValue) })
        // A pull of 16 MiB that b doesn't read: the server is held in its send, the connection busy.
        let large = peer.addObject(size: 16 << 20, seed: 62)
        try ask(busy, busySession, for: large.id, size: large.dataSize)
        #expect(eventually { peer.server.statistics.objectsPinned == 1 })
        // Now b is turned away in the handshake: no verdict, the connection closed.
        #expect(throws: TransferFault.self) { _ = try authenticated() }
        #expect(eventually { peer.server.statistics.connectionsRefusedForNode == 2 })
        // Another node still gets a place.
        let location = peer.addObject(size: 4096, seed: 63)
        let destination = try Arena(size: 1 << 20, options: .init(prefault: true))
        let puller = try TransferTests.puller { $0.nodeName = "c" }
        #expect(try TransferTests.pull(puller, PullTarget(location: location, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: location.totalSize)))?.get()
                == PulledCopy(checksum: location.checksum!))
        puller.stop()
        busy.close()
        peer.server.stop()
        #expect(peer.server.statistics.activeConnections == 0)
    }

    /// Whether the peer has closed `descriptor`'s connection: reads what arrived (without waiting) and
    /// finds the end behind it (or a reset).
    static func closedByPeer(_ descriptor: Int32) -> Bool {
        var bytes = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &bytes, bytes.count, Int32(MSG_DONTWAIT))
            if count > 0 { continue }
            return count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)
        }
    }
}
