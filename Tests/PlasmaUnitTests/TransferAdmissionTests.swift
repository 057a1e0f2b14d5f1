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

    @Test func aFullHandshakePoolEvictsItsOldestForANewcomer() {
        var admission = TransferAdmission(limits: Self.limits)
        #expect(admission.arrive(host: "10.0.0.1") == .admitted(id: 1, evicting: nil))
        #expect(admission.arrive(host: "10.0.0.2") == .admitted(id: 2, evicting: nil))
        #expect(admission.arrive(host: "10.0.0.3") == .admitted(id: 3, evicting: 1), "the oldest goes")
        #expect(admission.handshaking == 2)
        // The evicted one's proof, arriving late, doesn't make it served.
        #expect(admission.authenticated(1, node: "b") == .evicted)
        #expect(admission.arrive(host: "10.0.0.4") == .admitted(id: 4, evicting: 2))
        // A handshake that ends leaves room without evicting anyone.
        #expect(admission.authenticated(3, node: "b") == .serving)
        #expect(admission.arrive(host: "10.0.0.5") == .admitted(id: 5, evicting: nil))
        for id in 1...2 { admission.left(id) }
        #expect(admission.phases.count == 3)
    }

    @Test func oneAddressTakesAtMostItsShareOfTheHandshakesAndEvictsNobodyBeyondIt() {
        var admission = TransferAdmission(limits: .init(serving: 3, servingPerNode: 2, handshakes: 4, handshakesPerAddress: 2))
        #expect(admission.arrive(host: "10.0.0.1") == .admitted(id: 1, evicting: nil))
        #expect(admission.arrive(host: "10.0.0.1") == .admitted(id: 2, evicting: nil))
        #expect(admission.arrive(host: "10.0.0.1") == .addressBusy)
        admission.handshakeFailed(1)
        #expect(admission.arrive(host: "10.0.0.1") == .admitted(id: 3, evicting: nil), "a failed handshake frees its host's place")
    }

    @Test func oneNodeTakesAtMostItsShareOfTheServingPlacesAndAllOfThemAreBounded() {
        var admission = TransferAdmission(limits: .init(serving: 3, servingPerNode: 2, handshakes: 8, handshakesPerAddress: 8))
        for id in 1...5 { #expect(admission.arrive(host: "10.0.0.1") == .admitted(id: id, evicting: nil)) }
        #expect(admission.authenticated(1, node: "b") == .serving)
        #expect(admission.authenticated(2, node: "b") == .serving)
        #expect(admission.authenticated(3, node: "b") == .nodeBusy)
        #expect(admission.authenticated(4, node: "c") == .serving)
        #expect(admission.authenticated(5, node: "d") == .full, "three served in all")
        #expect(admission.arrive(host: "10.0.0.2") == .full, "refused at once while every serving place is taken")
        admission.left(1)
        #expect(admission.arrive(host: "10.0.0.2") == .admitted(id: 6, evicting: nil))
        #expect(admission.authenticated(6, node: "b") == .serving, "b's place came back")
        for id in [2, 3, 4, 5, 6] { admission.left(id) }
        #expect(admission.phases.isEmpty && admission.handshaking == 0 && admission.serving == 0)
    }

    @Test func connectionsOnTheirWayOutAreBoundedToo() {
        var admission = TransferAdmission(limits: Self.limits)
        // Each arrival beyond two evicts one whose thread hasn't left yet: at most serving + 2 × handshakes
        // connections exist at once.
        var admitted = 0
        for index in 0..<20 {
            if case .admitted = admission.arrive(host: "10.0.0.\(index)") { admitted += 1 }
        }
        #expect(admitted == Self.limits.serving + 2 * Self.limits.handshakes)
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
        // Each evicted connection is closed by the server: its peer reads the end.
        var ended = 0
        for descriptor in silent.prefix(8) {
            var byte: UInt8 = 0
            if recv(descriptor, &byte, 1, 0) == 0 { ended += 1 }
        }
        #expect(ended == 8)

        // A token holder gets in while the four silent ones are still there, and is served.
        let puller = try TransferTests.puller()
        #expect(try TransferTests.pull(puller, PullTarget(location: location, buffer: buffer))?.get() == PulledCopy(checksum: location.checksum!))
        statistics = peer.server.statistics
        #expect(statistics.handshakesEvicted == 9, "the puller's connection took the oldest silent one's place")
        #expect(statistics.connectionsRefused == 0 && statistics.connectionsRefusedForAddress == 0)
        #expect(statistics.connectionsRefusedForPlace == 9)
        puller.stop()
        peer.server.stop()
        #expect(peer.server.statistics.activeConnections == 0)
    }

    @Test func aNodeBeyondItsShareIsClosedAfterItsHandshakeAndCounted() throws {
        let peer = try TransferTests.Peer(sourceSize: 1 << 20) { $0.maxConnectionsPerNode = 1 }
        let endpoint = TCPEndpoint(parsing: peer.address)!
        let handshake = TransferHandshake(token: TransferTests.token, nodeName: "b")
        func authenticated() throws -> TCPSocket {
            let socket = try TCPSocket.connect(to: endpoint, timeout: .seconds(30))
            try socket.setTimeouts(receive: .seconds(30), send: .seconds(30))
            _ = try handshake.runAsClient(on: socket, before: MonotonicClock.nanoseconds() &+ 30_000_000_000)
            return socket
        }
        let first = try authenticated()
        let second = try authenticated()
        defer { first.close(); second.close() }
        #expect(eventually { peer.server.statistics.connectionsRefusedForNode == 1 })
        // The server closed the second: it reads the end (or a reset). The first stays open.
        var byte = [UInt8](repeating: 0, count: 1)
        let filled = try? byte.withUnsafeMutableBytes { try second.receiveExactly(into: $0) }
        #expect(filled != true)
        #expect(peer.server.statistics.activeConnections == 1)
        // Another node still gets a place.
        let location = peer.addObject(size: 4096, seed: 62)
        let destination = try Arena(size: 1 << 20, options: .init(prefault: true))
        let puller = try TransferTests.puller { $0.nodeName = "c" }
        #expect(try TransferTests.pull(puller, PullTarget(location: location, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: location.totalSize)))?.get()
                == PulledCopy(checksum: location.checksum!))
        puller.stop()
        peer.server.stop()
    }
}
