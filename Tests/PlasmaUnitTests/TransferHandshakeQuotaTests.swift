import Foundation
import PlasmaClusterCore
import PlasmaCore
import PlasmaPosix
@testable import PlasmaTransfer
import Testing

/// Review finding "Transfer connections are one shared pool of 32": peers that never finish the
/// handshake could fill it. Connections from one address still in the handshake are limited
/// (`maxHandshakesPerAddress`); one more is closed at once and counted, and a finished handshake (or
/// a failed one) frees its place. Real loopback TCP.
@Suite struct TransferHandshakeQuotaTests {
    @Test func silentConnectionsFromOneAddressTakeOnlyItsQuotaAndFinishedHandshakesFreeTheirPlace() throws {
        let peer = try TransferTests.Peer(sourceSize: 1 << 20) {
            $0.maxHandshakesPerAddress = 3
            $0.handshakeTimeout = .seconds(60)  // the silent ones stay in the handshake until closed
        }
        let location = peer.addObject(size: 4096, seed: 51)
        let destination = try Arena(size: 1 << 20, options: .init(prefault: true))
        let buffer = UnsafeMutableRawBufferPointer(start: destination.base, count: location.totalSize)
        // A completed handshake doesn't count: a puller's kept connection leaves the whole quota free.
        let puller = try TransferTests.puller()
        #expect(try TransferTests.pull(puller, PullTarget(location: location, buffer: buffer))?.get() == PulledCopy(checksum: location.checksum!))

        let endpoint = TCPEndpoint(parsing: peer.address)!
        let silent = try (0..<10).map { _ in try TCPSocket.connect(to: endpoint, timeout: .seconds(30)) }
        #expect(eventually { let s = peer.server.statistics; return s.connectionsAccepted + s.connectionsRefusedForAddress == 11 })
        var statistics = peer.server.statistics
        #expect(statistics.connectionsAccepted == 1 + 3, "the puller's, then three silent ones")
        #expect(statistics.connectionsRefusedForAddress == 7)
        #expect(statistics.activeConnections == 1 + 3)
        #expect(statistics.connectionsRefused == 0, "the pool itself was never full")
        // The kept, authenticated connection still serves.
        #expect(try TransferTests.pull(puller, PullTarget(location: location, buffer: buffer))?.get() == PulledCopy(checksum: location.checksum!))

        // The silent ones go: their handshakes fail, their places are free again.
        for socket in silent { socket.close() }
        #expect(eventually { peer.server.statistics.activeConnections == 1 })
        let again = try (0..<3).map { _ in try TCPSocket.connect(to: endpoint, timeout: .seconds(30)) }
        #expect(eventually { peer.server.statistics.connectionsAccepted == 1 + 3 + 3 })
        statistics = peer.server.statistics
        #expect(statistics.connectionsRefusedForAddress == 7)
        for socket in again { socket.close() }
        puller.stop()
        peer.server.stop()
        #expect(peer.server.statistics.activeConnections == 0)
    }

    @Test func theQuotaIsPerHostWhateverThePort() {
        #expect(TransferServer.host(of: "10.0.0.1:7420") == "10.0.0.1")
        #expect(TransferServer.host(of: "[::1]:50000") == "[::1]")
        #expect(TransferServer.host(of: "?") == "?")
    }
}
