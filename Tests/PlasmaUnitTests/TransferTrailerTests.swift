import Dispatch
import Foundation
import PlasmaClusterCore
import PlasmaCore
import PlasmaPosix
import PlasmaTestSupport
@testable import PlasmaTransfer
import Testing

/// Wire version 3's trailer (docs/TRANSFER.md): the object's bytes are followed by their XXH64, seeded
/// per pull from the session key, under a session MAC. Review finding: someone who can write etcd (but
/// lacks the token) points a location at its relay, relays the real handshake and headers, and swaps
/// the object's bytes, writing the swapped bytes' checksum into the location as well. Real loopback TCP.
@Suite struct TransferTrailerTests {
    typealias Peer = TransferTests.Peer

    enum Tampering: String, CaseIterable, CustomTestStringConvertible {
        /// One byte of the object flipped on the way.
        case body
        /// The trailer's hash altered to match nothing in particular.
        case trailerHash
        /// The trailer's MAC altered.
        case trailerMAC

        var testDescription: String { rawValue }
    }

    /// A relay on a free loopback port that forwards one pull between a puller and `server`, altering
    /// what `tampering` says; returns (its port, its thread).
    static func relay(to server: String, size: Int, tampering: Tampering) throws -> (port: UInt16, thread: PosixThread, listener: TCPSocket) {
        let (listener, port) = try TCPSocket.listen(on: TCPEndpoint(host: "127.0.0.1", port: 0))
        let thread = try PosixThread {
            guard let (client, _) = try? listener.accept() else { return }
            defer { client.close() }
            guard let upstream = try? TCPSocket.connect(to: TCPEndpoint(parsing: server)!, timeout: .seconds(30)) else { return }
            defer { upstream.close() }
            let deadline = MonotonicClock.nanoseconds() + 60_000_000_000
            do {
                try TransferSessionTests.forwardGreeting(from: client, to: upstream, before: deadline)
                try TransferSessionTests.forwardGreeting(from: upstream, to: client, before: deadline)
                try TransferSessionTests.forward(TransferWire.proofBytes, from: client, to: upstream, before: deadline)
                try TransferSessionTests.forward(1 + TransferWire.proofBytes, from: upstream, to: client, before: deadline)
                try TransferSessionTests.forward(TransferWire.requestBytes + TransferWire.macBytes, from: client, to: upstream, before: deadline)
                try TransferSessionTests.forward(TransferWire.replyBytes + TransferWire.macBytes, from: upstream, to: client, before: deadline)
                var body = [UInt8](repeating: 0, count: size)
                try upstream.receiveExactly(&body, before: deadline)
                if tampering == .body { body[size / 2] ^= 0x01 }
                try client.send(body)
                var trailer = [UInt8](repeating: 0, count: TransferWire.trailerBytes + TransferWire.macBytes)
                try upstream.receiveExactly(&trailer, before: deadline)
                switch tampering {
                case .body: break
                case .trailerHash: trailer[0] ^= 0x01
                case .trailerMAC: trailer[TransferWire.trailerBytes] ^= 0x01
                }
                try client.send(trailer)
                var rest = [UInt8](repeating: 0, count: 1)
                _ = try? client.receiveExactly(&rest)  // until the puller closes
            } catch {
                return
            }
        }
        return (port, thread, listener)
    }

    @Test(arguments: Tampering.allCases)
    func bytesOrTrailerAlteredByARelayAreRefusedEvenWithAMatchingLocation(tampering: Tampering) throws {
        let peer = try Peer(sourceSize: 4 << 20)
        let size = 1 << 20
        let real = peer.addObject(size: size, seed: 31)
        let relay = try Self.relay(to: peer.address, size: size, tampering: tampering)
        defer { relay.listener.close() }
        // The forged location: the relay's address, and (for swapped bytes) the swapped bytes' checksum,
        // so that only the trailer can tell.
        var forged = real
        forged.transferAddress = "127.0.0.1:\(relay.port)"
        let swapped = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        defer { swapped.deallocate() }
        TransferTests.fill(swapped, seed: 31)
        if tampering == .body {
            swapped[size / 2] ^= 0x01
            forged.checksum = XXH64.hash(UnsafeRawBufferPointer(swapped))
        }
        let destination = try Arena(size: 2 << 20, options: .init(prefault: true))
        let puller = try TransferTests.puller()
        let result = TransferTests.pull(puller, PullTarget(location: forged, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: size)))
        relay.thread.join()
        switch tampering {
        case .body:
            guard case .checksumMismatch(let expected, let actual)? = TransferTests.failure(result) else {
                Issue.record("swapped bytes were not refused: \(String(describing: result))")
                break
            }
            #expect(expected != actual)
            #expect(expected != forged.checksum, "refused against the trailer's authenticated hash, not the location's")
        case .trailerHash, .trailerMAC:
            #expect(TransferTests.failure(result) == .authentication)
            #expect(puller.authenticationFailures == 1)
        }
        puller.stop()
        peer.server.stop()
        #expect(peer.server.statistics.pullsServed == 1, "the real server sent the real bytes")
    }

    /// The seed is the session's and the request's: two pulls on one connection, or the same counter on
    /// two connections, hash with different seeds; a trailer opens only under its own counter.
    @Test func theSeedAndTheTrailerAreBoundToTheSessionAndTheCounter() {
        let handshake = TransferHandshake(token: TransferTests.token, nodeName: "b")
        let nonces = (TransferHandshake.nonce(), TransferHandshake.nonce())
        var first = handshake.session(client: Array("b".utf8), server: Array("a".utf8), clientNonce: nonces.0, serverNonce: nonces.1)
        let other = handshake.session(client: Array("b".utf8), server: Array("a".utf8), clientNonce: TransferHandshake.nonce(), serverNonce: nonces.1)
        let seed = first.seed
        #expect(seed != other.seed)
        let trailer = first.sealTrailer(checksum: 0x1234_5678)
        #expect(first.openTrailer(trailer) == 0x1234_5678)
        #expect(other.openTrailer(trailer) == nil, "another session's key")
        first.advance()
        #expect(first.seed != seed)
        #expect(first.openTrailer(trailer) == nil, "a replayed trailer")
    }
}
