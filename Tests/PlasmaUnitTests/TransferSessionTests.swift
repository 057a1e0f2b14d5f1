import Dispatch
import Foundation
import PlasmaClusterCore
import PlasmaCore
import PlasmaPosix
import PlasmaTestSupport
@testable import PlasmaTransfer
import Testing

/// The session after the handshake (docs/TRANSFER.md, "Session"): a relay that forwards a real
/// client's handshake to a real server can't send its own requests, a reply header altered on the way
/// is refused, and a server proving another node name than the location's is not pulled from. Real
/// loopback TCP, as ``TransferTests``.
@Suite struct TransferSessionTests {
    typealias Peer = TransferTests.Peer

    /// Forwards one greeting (magic, version, name, nonce) from `from` to `to`.
    static func forwardGreeting(from: TCPSocket, to: TCPSocket, before deadline: UInt64) throws {
        let (name, nonce) = try TransferHandshake.readGreeting(on: from, before: deadline)
        try to.send(TransferWire.magic + [TransferWire.version, UInt8(name.count)] + name + nonce)
    }

    /// Forwards exactly `count` bytes from `from` to `to`; returns them.
    @discardableResult
    static func forward(_ count: Int, from: TCPSocket, to: TCPSocket, before deadline: UInt64) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try from.receiveExactly(&bytes, before: deadline)
        try to.send(bytes)
        return bytes
    }

    /// The attack of the review: someone who can write etcd but lacks the token points a location at
    /// its relay; the puller connects to the relay, which connects to the real server and forwards the
    /// four handshake messages both ways (both sides accept), then sends its OWN pull, for another
    /// object, on the authenticated connection (with the MAC of the client's request spliced on, the
    /// best it has). Before the session MAC the server served it; now it closes without a reply and
    /// counts an authentication failure, and nothing is pinned.
    @Test func aRelayForwardingARealHandshakeCannotSendItsOwnRequest() throws {
        let peer = try Peer(sourceSize: 1 << 20)
        let secret = peer.addObject(size: 4096, seed: 21)
        let (listener, port) = try TCPSocket.listen(on: TCPEndpoint(host: "127.0.0.1", port: 0))
        defer { listener.close() }
        let handshakeRelayed = TransferTests.Outcome()  // .success once the four messages went through
        let relayGotAReply = TransferTests.Outcome()  // set if the server answered the relay's own request
        let relay = try PosixThread {
            guard let (client, _) = try? listener.accept() else { return }
            defer { client.close() }
            guard let server = try? TCPSocket.connect(to: TCPEndpoint(parsing: peer.address)!, timeout: .seconds(30)) else { return }
            defer { server.close() }
            let deadline = MonotonicClock.nanoseconds() + 60_000_000_000
            do {
                try Self.forwardGreeting(from: client, to: server, before: deadline)
                try Self.forwardGreeting(from: server, to: client, before: deadline)
                try Self.forward(TransferWire.proofBytes, from: client, to: server, before: deadline)
                let verdict = try Self.forward(1 + TransferWire.proofBytes, from: server, to: client, before: deadline)
                guard verdict[0] == TransferWire.accepted else { return }
                handshakeRelayed.set(.success(PulledCopy(checksum: 0)))
                // The client's real request, kept from the server; the relay's own goes instead.
                var request = [UInt8](repeating: 0, count: TransferWire.requestBytes + TransferWire.macBytes)
                try client.receiveExactly(&request, before: deadline)
                let own = TransferWire.Request(id: secret.id, dataSize: secret.dataSize, metadataSize: secret.metadataSize).encoded
                try server.send(own + request.suffix(TransferWire.macBytes))
                var reply = [UInt8](repeating: 0, count: 1)
                if (try? server.receiveExactly(&reply, before: deadline)) != nil { relayGotAReply.set(.failure(.notHeld)) }
            } catch {
                return
            }
        }
        var wanted = secret
        wanted.transferAddress = "127.0.0.1:\(port)"  // the forged location: node "a", at the relay
        var random = SeededRandom(seed: 22)
        wanted.id = ObjectID.random(using: &random)
        let destination = try Arena(size: 1 << 20, options: .init(prefault: true))
        let puller = try TransferTests.puller()
        let result = TransferTests.pull(puller, PullTarget(location: wanted, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: wanted.totalSize)))
        relay.join()
        #expect(result != nil && TransferTests.failure(result) != nil)  // the relay closed on the puller
        #expect(handshakeRelayed.value != nil, "the relay got through the handshake (both sides accepted)")
        #expect(relayGotAReply.value == nil, "the server answered the relay's own request")
        #expect(peer.server.authenticationFailures == 1)
        #expect(peer.source.counts.pins == 0)
        puller.stop()
        peer.server.stop()
    }

    /// A server (it knows the token) whose reply header is altered after sealing, as a relay or anyone
    /// on the path could: "sending" becomes "not held". The puller refuses the header (`.authentication`)
    /// instead of believing it.
    @Test func aTamperedReplyHeaderIsRefusedByThePuller() throws {
        let (listener, port) = try TCPSocket.listen(on: TCPEndpoint(host: "127.0.0.1", port: 0))
        defer { listener.close() }
        let server = try PosixThread {
            guard let (socket, session) = acceptOneRequest(on: listener) else { return }
            defer { socket.close() }
            var reply = session.sealReply(TransferWire.reply(.sending, dataSize: 64, metadataSize: 0))
            reply[0] = TransferWire.ReplyStatus.notHeld.rawValue
            try? socket.send(reply)
            var rest = [UInt8](repeating: 0, count: 1)
            _ = try? socket.receiveExactly(&rest)  // until the puller closes
        }
        let location = ClusterLocation(id: ObjectID.random(), node: "a", transferAddress: "127.0.0.1:\(port)", dataSize: 64, metadataSize: 0, checksum: 0)
        let destination = try Arena(size: 4096, options: .init(prefault: true))
        let puller = try TransferTests.puller()
        let result = TransferTests.pull(puller, PullTarget(location: location, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: 64)))
        #expect(TransferTests.failure(result) == .authentication)
        #expect(puller.authenticationFailures == 1)
        puller.stop()
        server.join()
    }

    /// The location says node "c" but the server at its address proves it is "a": a forged or stale
    /// location fails with `.authentication`, on a fresh connection and on a kept one alike, and
    /// nothing is requested.
    @Test func aLocationWhoseNodeIsNotTheServersProvenNameFails() throws {
        let peer = try Peer(sourceSize: 1 << 20)
        let real = peer.addObject(size: 4096, seed: 23)
        var forged = real
        forged.node = "c"
        let destination = try Arena(size: 1 << 20, options: .init(prefault: true))
        let buffer = UnsafeMutableRawBufferPointer(start: destination.base, count: real.totalSize)
        let puller = try TransferTests.puller()
        #expect(TransferTests.failure(TransferTests.pull(puller, PullTarget(location: forged, buffer: buffer))) == .authentication)
        let good = TransferTests.pull(puller, PullTarget(location: real, buffer: buffer))
        #expect(good != nil && TransferTests.failure(good) == nil)
        #expect(TransferTests.failure(TransferTests.pull(puller, PullTarget(location: forged, buffer: buffer))) == .authentication)
        #expect(puller.authenticationFailures == 2)
        puller.stop()
        peer.server.stop()
        #expect(peer.server.statistics.pullsServed == 1)
        #expect(peer.source.counts.pins == 1)
    }

    /// The session MACs themselves: the counter makes a replayed request fail, a reply's MAC is not a
    /// request's (direction labels), and another handshake's session (other nonces) has another key.
    @Test func sessionMACsBindTheCounterTheDirectionAndTheHandshake() {
        let handshake = TransferHandshake(token: TransferTests.token, nodeName: "b")
        let nonces = (TransferHandshake.nonce(), TransferHandshake.nonce())
        var client = handshake.session(client: Array("b".utf8), server: Array("a".utf8), clientNonce: nonces.0, serverNonce: nonces.1)
        var server = handshake.session(client: Array("b".utf8), server: Array("a".utf8), clientNonce: nonces.0, serverNonce: nonces.1)
        let request = TransferWire.Request(id: ObjectID.random(), dataSize: 10, metadataSize: 0).encoded
        let sealed = client.sealRequest(request)
        #expect(server.isValidRequest(request, mac: sealed.suffix(TransferWire.macBytes)))
        let reply = TransferWire.reply(.notHeld, dataSize: 0, metadataSize: 0)
        #expect(!server.isValidRequest(request, mac: server.sealReply(request).suffix(TransferWire.macBytes)), "a reflected MAC")
        #expect(client.isValidReply(reply, mac: server.sealReply(reply).suffix(TransferWire.macBytes)))
        client.advance()
        server.advance()
        #expect(!server.isValidRequest(request, mac: sealed.suffix(TransferWire.macBytes)), "a replay")
        let other = handshake.session(client: Array("b".utf8), server: Array("a".utf8), clientNonce: TransferHandshake.nonce(), serverNonce: nonces.1)
        #expect(!server.isValidRequest(request, mac: other.sealRequest(request).suffix(TransferWire.macBytes)))
    }
}
