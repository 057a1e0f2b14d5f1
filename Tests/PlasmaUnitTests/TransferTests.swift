import Dispatch
import Foundation
import Logging
import PlasmaClusterCore
import PlasmaCore
import PlasmaPosix
import PlasmaTestSupport
@testable import PlasmaTransfer
import Testing

/// A location and the block a test's pull is received into: the request's reserve hands out `buffer`
/// (and counts how often it was asked).
struct PullTarget {
    let location: ClusterLocation
    let buffer: UnsafeMutableRawBufferPointer
    let reserves = ReserveCount()

    final class ReserveCount: @unchecked Sendable {
        // @unchecked: `count` is only touched under `lock`.
        private let lock = NSLock()
        private var count = 0
        func add() { lock.withLock { count += 1 } }
        var value: Int { lock.withLock { count } }
    }

    var request: PullRequest {
        // nonisolated(unsafe): the test's block, written by its one pull.
        nonisolated(unsafe) let buffer = self.buffer
        let reserves = self.reserves
        return PullRequest(location: location) { dataSize, metadataSize in
            reserves.add()
            return dataSize + metadataSize == buffer.count ? buffer : nil
        }
    }
}

/// The transfer plane over real TCP on loopback between real memfd arenas: a ``TransferServer`` serving
/// an ``ArenaObjectSource`` and a ``TransferPuller`` filling a block of another arena.
@Suite struct TransferTests {
    static let token = try! ClusterToken(bytes: Array("the cluster token of the tests".utf8))
    static let logger = {
        var logger = Logger(label: "transfer-tests")
        logger.logLevel = .warning  // the refusals' warnings show; "listening on" doesn't
        return logger
    }()

    /// A server on a free loopback port over a source arena of `sourceSize` bytes.
    struct Peer {
        let source: ArenaObjectSource
        let server: TransferServer
        var address: String { "127.0.0.1:\(server.port)" }

        init(sourceSize: Int, token: ClusterToken = TransferTests.token, configure: (inout TransferServer.Configuration) -> Void = { _ in }) throws {
            source = try ArenaObjectSource(size: sourceSize)
            var configuration = TransferServer.Configuration(address: "127.0.0.1:0", nodeName: "a", token: token)
            configure(&configuration)
            server = TransferServer(configuration: configuration, source: source, logger: TransferTests.logger)
            try server.start()
        }

        /// Adds an object of seeded random bytes; its location at this server.
        func addObject(size: Int, metadataSize: Int = 0, seed: UInt64) -> ClusterLocation {
            var random = SeededRandom(seed: seed)
            let id = ObjectID.random(using: &random)
            let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
            defer { bytes.deallocate() }
            fill(bytes, seed: seed)
            source.add(id, bytes: UnsafeRawBufferPointer(bytes), metadataSize: metadataSize)
            return ClusterLocation(
                id: id, node: "a", transferAddress: address, dataSize: size - metadataSize, metadataSize: metadataSize,
                checksum: XXH64.hash(UnsafeRawBufferPointer(bytes)))
        }
    }

    static func fill(_ bytes: UnsafeMutableRawBufferPointer, seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let words = bytes.count / 8
        let wordBuffer = bytes.bindMemory(to: UInt64.self)
        for index in 0..<words { wordBuffer[index] = random.next() }
        for index in (words * 8)..<bytes.count { bytes[index] = UInt8(truncatingIfNeeded: random.next()) }
    }

    static func puller(
        token: ClusterToken = token, connectTimeout: Duration = .seconds(3), configure: (inout TransferPuller.Configuration) -> Void = { _ in }
    ) throws -> TransferPuller {
        var configuration = TransferPuller.Configuration(nodeName: "b", token: token)
        configuration.connectTimeout = connectTimeout
        configure(&configuration)
        return try TransferPuller(configuration: configuration, logger: logger)
    }

    /// The pull's result, waited for (nil if it took over two minutes: a hang, not a slow machine).
    static func pull(_ puller: TransferPuller, _ target: PullTarget) -> Result<PulledCopy, PullFailure>? {
        let done = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        puller.pull(target.request) { result in
            outcome.set(result)
            done.signal()
        }
        guard done.wait(timeout: .now() + 120) == .success else { return nil }
        return outcome.value
    }

    final class Outcome: @unchecked Sendable {
        // @unchecked: `result` is only touched under `lock`.
        private let lock = NSLock()
        private var result: Result<PulledCopy, PullFailure>?
        func set(_ value: Result<PulledCopy, PullFailure>) { lock.withLock { result = value } }
        var value: Result<PulledCopy, PullFailure>? { lock.withLock { result } }
    }

    static func failure(_ result: Result<PulledCopy, PullFailure>?) -> PullFailure? {
        if case .failure(let failure)? = result { return failure }
        return nil
    }

    static func isConnectionFailure(_ result: Result<PulledCopy, PullFailure>?) -> Bool {
        if case .connection? = failure(result) { return true }
        return false
    }

    // MARK: pulls

    @Test func a64MiBPullArrivesByteExactAndTheConnectionIsReused() throws {
        let size = 64 << 20
        let peer = try Peer(sourceSize: 2 * size + (1 << 20))
        let first = peer.addObject(size: size, metadataSize: 1000, seed: 15)
        let second = peer.addObject(size: 1 << 20, metadataSize: 0, seed: 16)
        let destination = try Arena(size: size + (1 << 20), options: .init(prefault: true))
        let puller = try Self.puller()

        let target = UnsafeMutableRawBufferPointer(start: destination.base, count: size)
        let result = Self.pull(puller, PullTarget(location: first, buffer: target))
        #expect(Self.failure(result) == nil && result != nil)
        #expect(XXH64.hash(UnsafeRawBufferPointer(target)) == first.checksum)
        let expected = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        defer { expected.deallocate() }
        Self.fill(expected, seed: 15)
        #expect(memcmp(expected.baseAddress!, target.baseAddress!, size) == 0)

        let smaller = UnsafeMutableRawBufferPointer(start: destination.base + size, count: second.totalSize)
        let again = Self.pull(puller, PullTarget(location: second, buffer: smaller))
        #expect(Self.failure(again) == nil && again != nil)
        #expect(puller.statistics.connectionsReused == 1)
        #expect(puller.statistics.connectionsOpened == 1)

        puller.stop()
        peer.server.stop()
        let statistics = peer.server.statistics
        #expect(statistics.pullsServed == 2)
        #expect(statistics.bytesSent == Int64(size + second.totalSize))
        #expect(statistics.activeConnections == 0 && statistics.objectsPinned == 0)
        let counts = peer.source.counts
        #expect(counts.pins == 2 && counts.unpins == 2)
    }

    /// The block is asked for only after the holder's authenticated reply confirmed the sizes: a
    /// location whose sizes differ from the held object's (forged in etcd) reserves nothing.
    @Test func sizesOtherThanTheHoldersReserveNothingAndTheRightOnesReserveOnce() throws {
        let peer = try Peer(sourceSize: 1 << 20)
        let held = peer.addObject(size: 8192, metadataSize: 10, seed: 43)
        let destination = try Arena(size: 64 << 20, options: .init(prefault: false))
        let puller = try Self.puller()
        for (dataSize, metadataSize) in [(60 << 20, 10), (8182, 0), (8181, 11)] {
            var forged = held
            (forged.dataSize, forged.metadataSize) = (dataSize, metadataSize)
            let target = PullTarget(location: forged, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: forged.totalSize))
            #expect(Self.failure(Self.pull(puller, target)) == .notHeld)
            #expect(target.reserves.value == 0, "no block asked for \(dataSize)+\(metadataSize)")
        }
        let target = PullTarget(location: held, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: held.totalSize))
        let result = Self.pull(puller, target)
        #expect(try result?.get() == PulledCopy(checksum: held.checksum!))
        #expect(target.reserves.value == 1)
        puller.stop()
        peer.server.stop()
    }

    /// A store that declines the block (no room) ends the pull `.declined`, and the puller's next pull
    /// from the same peer works (on a fresh connection: the declined one had bytes on the way).
    @Test func aDeclinedReserveEndsThePullAndTheNextPullWorks() throws {
        let peer = try Peer(sourceSize: 4 << 20)
        let held = peer.addObject(size: 1 << 20, seed: 44)
        let destination = try Arena(size: 2 << 20, options: .init(prefault: true))
        let puller = try Self.puller()
        let declining = PullRequest(location: held) { _, _ in nil }
        let done = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        puller.pull(declining) { result in
            outcome.set(result)
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 120) == .success)
        #expect(Self.failure(outcome.value) == .declined)
        let target = PullTarget(location: held, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: held.totalSize))
        #expect(try Self.pull(puller, target)?.get() == PulledCopy(checksum: held.checksum!))
        puller.stop()
        peer.server.stop()
        #expect(peer.source.wait { pins, unpins in pins == 2 && unpins == 2 })
    }

    @Test(arguments: TransferServer.SendMethod.allCases)
    func bothSendMethodsDeliverTheSameBytes(method: TransferServer.SendMethod) throws {
        let peer = try Peer(sourceSize: 8 << 20) { $0.sendMethod = method }
        let location = peer.addObject(size: 3 << 20 + 17, metadataSize: 17, seed: 3)
        let destination = try Arena(size: 4 << 20, options: .init(prefault: true))
        let puller = try Self.puller()
        let result = Self.pull(puller, PullTarget(location: location, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: location.totalSize)))
        #expect(Self.failure(result) == nil && result != nil)
        puller.stop()
        peer.server.stop()
        #expect(peer.source.counts.pins == 1 && peer.source.counts.unpins == 1)
    }

    /// Sizes about the points where the pull hands its hashing to the ``HashStage`` (over 1 MiB) and
    /// where it tells the stage of every receive (the last MiB): each arrives and hashes to its
    /// location's checksum, and the trailer's hash checks.
    @Test(arguments: [(1 << 20, 0), (1 << 20, 1), (2 << 20, 0), (2 << 20 + 1, 0), (5 << 20 - 3, 7)])
    func objectsAboutTheHashStagesBoundariesArriveWhole(size: Int, metadataSize: Int) throws {
        let peer = try Peer(sourceSize: 8 << 20)
        let location = peer.addObject(size: size, metadataSize: metadataSize, seed: UInt64(size))
        let destination = try Arena(size: 8 << 20, options: .init(prefault: true))
        let puller = try Self.puller()
        let target = PullTarget(location: location, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: location.totalSize))
        #expect(try Self.pull(puller, target)?.get() == PulledCopy(checksum: location.checksum!))
        let expected = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        defer { expected.deallocate() }
        Self.fill(expected, seed: UInt64(size))
        #expect(memcmp(destination.base, expected.baseAddress!, size) == 0, "the bytes of \(size)+\(metadataSize)")
        puller.stop()
        peer.server.stop()
    }

    @Test func aWrongChecksumIsAChecksumMismatch() throws {
        let peer = try Peer(sourceSize: 2 << 20)
        var location = peer.addObject(size: 1 << 20, seed: 4)
        let actual = try #require(location.checksum)
        location.checksum = actual ^ 1
        let destination = try Arena(size: 1 << 20, options: .init(prefault: true))
        let puller = try Self.puller()
        let result = Self.pull(puller, PullTarget(location: location, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: location.totalSize)))
        #expect(Self.failure(result) == .checksumMismatch(expected: actual ^ 1, actual: actual))
        puller.stop()
        peer.server.stop()
        #expect(peer.source.counts.pins == 1 && peer.source.counts.unpins == 1)
    }

    @Test func anObjectTheSourceDoesNotHoldIsNotHeld() throws {
        let peer = try Peer(sourceSize: 1 << 20)
        let held = peer.addObject(size: 4096, seed: 5)
        var random = SeededRandom(seed: 6)
        var absent = held
        absent.id = ObjectID.random(using: &random)
        var otherSizes = held
        otherSizes.dataSize -= 64
        let destination = try Arena(size: 1 << 20, options: .init(prefault: true))
        let puller = try Self.puller()
        for location in [absent, otherSizes] {
            let buffer = UnsafeMutableRawBufferPointer(start: destination.base, count: location.totalSize)
            #expect(Self.failure(Self.pull(puller, PullTarget(location: location, buffer: buffer))) == .notHeld)
        }
        puller.stop()
        peer.server.stop()
        #expect(peer.server.statistics.pullsNotHeld == 2)
        #expect(peer.source.counts.pins == 1 && peer.source.counts.unpins == 1)  // the one with other sizes
    }

    // MARK: authentication

    @Test func aWrongTokenIsRefusedAndCountedOnBothSides() throws {
        let peer = try Peer(sourceSize: 1 << 20)
        let location = peer.addObject(size: 4096, seed: 7)
        let destination = try Arena(size: 1 << 20, options: .init(prefault: true))
        let intruder = try Self.puller(token: try ClusterToken(bytes: Array("not the cluster token at all".utf8)))
        let buffer = UnsafeMutableRawBufferPointer(start: destination.base, count: location.totalSize)
        #expect(Self.failure(Self.pull(intruder, PullTarget(location: location, buffer: buffer))) == .authentication)
        #expect(intruder.authenticationFailures == 1)
        #expect(peer.server.authenticationFailures == 1)  // counted before the refusal is sent
        intruder.stop()
        peer.server.stop()
        #expect(peer.source.counts.pins == 0)
    }

    /// A "server" that doesn't know the token but accepts any proof and answers with a made-up one: the
    /// puller refuses it before asking for anything.
    @Test func aServerThatCannotProveTheTokenIsRefused() throws {
        let (listener, port) = try TCPSocket.listen(on: TCPEndpoint(host: "127.0.0.1", port: 0))
        defer { listener.close() }
        let requestsSeen = Outcome()
        let impostor = try PosixThread {
            guard let (socket, _) = try? listener.accept() else { return }
            defer { socket.close() }
            let deadline = MonotonicClock.nanoseconds() + 30_000_000_000
            guard (try? TransferHandshake.readGreeting(on: socket, before: deadline)) != nil else { return }
            let fake = TransferHandshake(token: try! ClusterToken(bytes: Array("an impostor's own token".utf8)), nodeName: "a")
            try? socket.send(fake.greeting(nonce: TransferHandshake.nonce()))
            var proof = [UInt8](repeating: 0, count: TransferWire.proofBytes)
            guard (try? socket.receiveExactly(&proof, before: deadline)) != nil else { return }
            try? socket.send([TransferWire.accepted] + [UInt8](repeating: 0xAB, count: TransferWire.proofBytes))
            var request = [UInt8](repeating: 0, count: 1)
            if (try? socket.receiveExactly(&request, before: deadline)) != nil { requestsSeen.set(.failure(.notHeld)) }
        }
        let location = ClusterLocation(id: ObjectID.random(), node: "a", transferAddress: "127.0.0.1:\(port)", dataSize: 64, metadataSize: 0, checksum: 0)
        let destination = try Arena(size: 4096, options: .init(prefault: true))
        let puller = try Self.puller()
        let buffer = UnsafeMutableRawBufferPointer(start: destination.base, count: 64)
        #expect(Self.failure(Self.pull(puller, PullTarget(location: location, buffer: buffer))) == .authentication)
        #expect(puller.authenticationFailures == 1)
        puller.stop()
        impostor.join()
        #expect(requestsSeen.value == nil)
    }

    // MARK: broken connections

    /// A peer that sends the reply and half the bytes, then closes: `.connection`.
    @Test func aServerClosingMidTransferIsAConnectionFailure() throws {
        let (listener, port) = try TCPSocket.listen(on: TCPEndpoint(host: "127.0.0.1", port: 0))
        defer { listener.close() }
        let size = 8 << 20
        let server = try PosixThread {
            guard let (socket, session) = acceptOneRequest(on: listener) else { return }
            defer { socket.close() }
            try? socket.send(session.sealReply(TransferWire.reply(.sending, dataSize: size, metadataSize: 0)))
            try? socket.send([UInt8](repeating: 7, count: size / 2))
        }
        let location = ClusterLocation(id: ObjectID.random(), node: "a", transferAddress: "127.0.0.1:\(port)", dataSize: size, metadataSize: 0, checksum: 0)
        let destination = try Arena(size: size, options: .init(prefault: true))
        let puller = try Self.puller()
        let result = Self.pull(puller, PullTarget(location: location, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: size)))
        #expect(Self.isConnectionFailure(result))
        puller.stop()
        server.join()
    }

    /// A real server whose send breaks after the first 4 MiB of 16 (the block runs past its memfd's end):
    /// the server aborts and closes, the puller reports `.connection`, and the pin is released.
    @Test(arguments: TransferServer.SendMethod.allCases)
    func aServerFailingMidSendIsAConnectionFailureAndUnpins(method: TransferServer.SendMethod) throws {
        let peer = try Peer(sourceSize: 8 << 20) { $0.sendMethod = method }
        var random = SeededRandom(seed: 11)
        let id = ObjectID.random(using: &random)
        let size = 16 << 20
        peer.source.addRunningPastTheEnd(id, inside: 4 << 20, total: size)
        let location = ClusterLocation(id: id, node: "a", transferAddress: peer.address, dataSize: size, metadataSize: 0, checksum: 0)
        let destination = try Arena(size: size, options: .init(prefault: true))
        let puller = try Self.puller()
        let result = Self.pull(puller, PullTarget(location: location, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: size)))
        #expect(Self.isConnectionFailure(result), "\(String(describing: result))")
        #expect(peer.source.wait { pins, unpins in pins == 1 && unpins == 1 })
        #expect(peer.server.statistics.pullsAborted == 1)
        puller.stop()
        peer.server.stop()
    }

    /// A puller that goes away after the first megabyte of 64: the server's send fails and the object
    /// is unpinned.
    @Test func aPeerGoneMidSendReleasesThePin() throws {
        let size = 64 << 20
        let peer = try Peer(sourceSize: size + 4096)
        let location = peer.addObject(size: size, seed: 8)
        let socket = try TCPSocket.connect(to: TCPEndpoint(parsing: peer.address)!, timeout: .seconds(30))
        try socket.setTimeouts(receive: .seconds(60), send: .seconds(60))
        let handshake = TransferHandshake(token: Self.token, nodeName: "b")
        let (_, session) = try handshake.runAsClient(on: socket, before: MonotonicClock.nanoseconds() + 60_000_000_000)
        try socket.send(session.sealRequest(TransferWire.Request(id: location.id, dataSize: size, metadataSize: 0).encoded))
        var reply = [UInt8](repeating: 0, count: TransferWire.replyBytes + TransferWire.macBytes + (1 << 20))
        try socket.receiveExactly(&reply)
        #expect(reply[0] == TransferWire.ReplyStatus.sending.rawValue)
        socket.close()
        #expect(peer.source.wait { pins, unpins in pins == 1 && unpins == 1 })
        #expect(peer.server.statistics.pullsAborted == 1)
        peer.server.stop()
    }

    @Test func anUnreachablePeerIsAConnectionFailureWithinTheConnectTimeout() throws {
        let (closed, port) = try TCPSocket.listen(on: TCPEndpoint(host: "127.0.0.1", port: 0))
        closed.close()  // nothing listens there any more: refused
        let destination = try Arena(size: 4096, options: .init(prefault: true))
        let puller = try Self.puller(connectTimeout: .milliseconds(500))
        // 192.0.2.1 (TEST-NET-1, RFC 5737) is never routed: a timeout, or "unreachable" at once.
        for address in ["127.0.0.1:\(port)", "192.0.2.1:7420"] {
            let location = ClusterLocation(id: ObjectID.random(), node: "gone", transferAddress: address, dataSize: 64, metadataSize: 0, checksum: 0)
            let start = ContinuousClock.now
            let result = Self.pull(puller, PullTarget(location: location, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: 64)))
            #expect(Self.isConnectionFailure(result), "\(address): \(String(describing: result))")
            #expect(ContinuousClock.now - start < .seconds(10))  // 20× the connect timeout
        }
        puller.stop()
    }

    // MARK: bounds

    @Test func connectionsBeyondTheLimitAreClosedAtOnce() throws {
        let peer = try Peer(sourceSize: 1 << 20) { $0.maxConnections = 1 }
        // The one place, taken by a puller's kept connection (served: its pull is done).
        let location = peer.addObject(size: 4096, seed: 63)
        let destination = try Arena(size: 1 << 20, options: .init(prefault: true))
        let puller = try Self.puller()
        defer { puller.stop() }
        #expect(try Self.pull(puller, PullTarget(location: location, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: location.totalSize)))?.get()
                == PulledCopy(checksum: location.checksum!))
        let second = try TCPSocket.connect(to: TCPEndpoint(parsing: peer.address)!, timeout: .seconds(30))
        defer { second.close() }
        try second.setTimeouts(receive: .seconds(60), send: nil)
        var byte = [UInt8](repeating: 0, count: 1)
        #expect(try byte.withUnsafeMutableBytes { try second.receive(into: $0) } == 0)
        #expect(peer.server.statistics.connectionsRefused == 1)
        #expect(peer.server.statistics.connectionsAccepted == 1)
        peer.server.stop()
    }

    @Test func aSilentPeerIsClosedAfterTheHandshakeTimeout() throws {
        let peer = try Peer(sourceSize: 4096) { $0.handshakeTimeout = .milliseconds(200) }
        let socket = try TCPSocket.connect(to: TCPEndpoint(parsing: peer.address)!, timeout: .seconds(30))
        defer { socket.close() }
        try socket.setTimeouts(receive: .seconds(60), send: nil)
        var byte = [UInt8](repeating: 0, count: 1)
        #expect(try byte.withUnsafeMutableBytes { try socket.receive(into: $0) } == 0)
        #expect(peer.server.statistics.handshakeFailures == 1)
        #expect(peer.server.authenticationFailures == 0)
        peer.server.stop()
    }

    @Test func stopClosesAnIdleAuthenticatedConnection() throws {
        let peer = try Peer(sourceSize: 1 << 20)
        let location = peer.addObject(size: 4096, seed: 9)
        let destination = try Arena(size: 4096, options: .init(prefault: true))
        let puller = try Self.puller()
        #expect(Self.failure(Self.pull(puller, PullTarget(location: location, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: 4096)))) == nil)
        peer.server.stop()  // returns although the puller keeps its connection open
        #expect(peer.server.statistics.activeConnections == 0)
        puller.stop()
    }

    @Test func theListenerBindsOnlyTheGivenAddress() throws {
        let peer = try Peer(sourceSize: 4096)
        // 127.0.0.2 is loopback too, but not the address bound: refused.
        #expect(throws: SystemError.self) { try TCPSocket.connect(to: TCPEndpoint(host: "127.0.0.2", port: peer.server.port), timeout: .seconds(30)).close() }
        peer.server.stop()
        let elsewhere = TransferServer(
            configuration: .init(address: "192.0.2.1:0", nodeName: "a", token: Self.token), source: peer.source, logger: Self.logger)
        #expect(throws: TransferServerError.self) { try elsewhere.start() }  // not an address of this machine
        let nowhere = TransferServer(
            configuration: .init(address: ":7420", nodeName: "a", token: Self.token), source: peer.source, logger: Self.logger)
        #expect(throws: TransferServerError.self) { try nowhere.start() }  // no wildcard is assumed
    }

    static let hasIPv6Loopback: Bool = {
        guard let (socket, _) = try? TCPSocket.listen(on: TCPEndpoint(host: "::1", port: 0)) else { return false }
        socket.close()
        return true
    }()

    @Test(.enabled(if: hasIPv6Loopback, "the machine has no IPv6 loopback"))
    func aPullWorksOverIPv6() throws {
        let peer = try Peer(sourceSize: 1 << 20) { $0.address = "[::1]:0" }
        var location = peer.addObject(size: 100_000, seed: 12)
        location.transferAddress = "[::1]:\(peer.server.port)"
        let destination = try Arena(size: 1 << 20, options: .init(prefault: true))
        let puller = try Self.puller()
        let result = Self.pull(puller, PullTarget(location: location, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: location.totalSize)))
        #expect(Self.failure(result) == nil && result != nil)
        puller.stop()
        peer.server.stop()
    }

    @Test func manyPullsAtOnceAllArriveThroughTheBoundedPool() throws {
        let peer = try Peer(sourceSize: 16 << 20)
        let locations = (0..<12).map { peer.addObject(size: 1 << 20, metadataSize: 100, seed: 100 + UInt64($0)) }
        let destination = try Arena(size: 16 << 20, options: .init(prefault: true))
        // As many kept connections as threads: then a thread opens one only when all others are busy.
        let puller = try Self.puller {
            $0.maxConcurrentPulls = 4
            $0.idleConnectionsPerPeer = 4
        }
        let done = DispatchSemaphore(value: 0)
        let outcomes = (0..<locations.count).map { _ in Outcome() }
        for (index, location) in locations.enumerated() {
            let buffer = UnsafeMutableRawBufferPointer(start: destination.base + index * (1 << 20), count: location.totalSize)
            puller.pull(PullTarget(location: location, buffer: buffer).request) { result in
                outcomes[index].set(result)
                done.signal()
            }
        }
        for _ in locations { #expect(done.wait(timeout: .now() + 120) == .success) }
        for outcome in outcomes { #expect(outcome.value != nil && Self.failure(outcome.value) == nil) }
        let statistics = puller.statistics
        #expect(statistics.pullsSucceeded == locations.count)
        #expect(statistics.connectionsOpened <= 4)  // at most one per thread of the pool
        #expect(statistics.connectionsOpened + statistics.connectionsReused == locations.count)
        puller.stop()
        peer.server.stop()
        #expect(peer.source.counts.pins == locations.count && peer.source.counts.unpins == locations.count)
    }

    /// The server closes the puller's kept connection after its idle timeout: the next pull finds it
    /// dead before any reply and succeeds on a fresh one.
    @Test func aKeptConnectionTheServerClosedIsReplacedTransparently() throws {
        let peer = try Peer(sourceSize: 1 << 20) { $0.idleTimeout = .milliseconds(100) }
        let location = peer.addObject(size: 10_000, seed: 13)
        let destination = try Arena(size: 1 << 20, options: .init(prefault: true))
        let puller = try Self.puller()
        let target = PullTarget(location: location, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: location.totalSize))
        #expect(Self.failure(Self.pull(puller, target)) == nil)
        let deadline = ContinuousClock.now + .seconds(60)
        while peer.server.statistics.activeConnections > 0, ContinuousClock.now < deadline { usleep(1000) }  // the idle close
        #expect(peer.server.statistics.activeConnections == 0)
        let again = Self.pull(puller, target)
        #expect(again != nil && Self.failure(again) == nil)
        #expect(puller.statistics.connectionsOpened == 2)
        puller.stop()
        peer.server.stop()
    }

    // MARK: parts

    @Test func streamingXXH64EqualsTheOneShotHashWhateverThePieces() {
        var random = SeededRandom(seed: 10)
        let bytes = (0..<10_000).map { _ in UInt8.random(in: 0...255, using: &random) }
        bytes.withUnsafeBytes { all in
            #expect(XXH64.Stream().digest == 0xEF46_DB37_51D8_E999)  // the published vector of ""
            for _ in 0..<50 {
                var stream = XXH64.Stream()
                var offset = 0
                while offset < all.count {
                    let piece = min(all.count - offset, Int.random(in: 0...100, using: &random))
                    stream.update(UnsafeRawBufferPointer(rebasing: all[offset..<offset + piece]))
                    offset += piece
                }
                #expect(stream.digest == XXH64.hash(all))
            }
        }
    }

    /// The two hashes of a pulled copy, fed in one pass, are each what its own stream gives, whatever
    /// the pieces (including pieces that leave part of a stripe buffered).
    @Test func aPairOfHashesInOnePassEqualsTwoStreams() {
        var random = SeededRandom(seed: 11)
        let bytes = (0..<10_000).map { _ in UInt8.random(in: 0...255, using: &random) }
        bytes.withUnsafeBytes { all in
            for round in 0..<50 {
                let seed = random.next()
                var pair = XXH64.Pair(seeds: (seed, 0))
                var offset = 0
                while offset < all.count {
                    let piece = min(all.count - offset, Int.random(in: 0...(round % 2 == 0 ? 100 : 3000), using: &random))
                    pair.update(UnsafeRawBufferPointer(rebasing: all[offset..<offset + piece]))
                    offset += piece
                }
                #expect(pair.digests.first == XXH64.hash(all, seed: seed))
                #expect(pair.digests.second == XXH64.hash(all))
            }
        }
    }

    @Test func transferAddressesParse() {
        #expect(TCPEndpoint(parsing: "10.0.0.1:7420") == TCPEndpoint(host: "10.0.0.1", port: 7420))
        #expect(TCPEndpoint(parsing: "[::1]:7420") == TCPEndpoint(host: "::1", port: 7420))
        #expect(TCPEndpoint(parsing: "store-a.example:0") == TCPEndpoint(host: "store-a.example", port: 0))
        #expect(TCPEndpoint(host: "::1", port: 7420).description == "[::1]:7420")
        for bad in ["", ":7420", "10.0.0.1", "10.0.0.1:", "10.0.0.1:65536", "::1:7420", "[::1]7420", "host:+1"] {
            #expect(TCPEndpoint(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func aTokenFileMustBePrivateAndLongEnough() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("transfer-token-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("token").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data("  a long enough cluster secret\n".utf8), attributes: [.posixPermissions: 0o600]))
        #expect(throws: Never.self) { try ClusterToken.read(fromFile: path) }
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        #expect(throws: ClusterTokenError.accessibleByOthers(path, mode: 0o644)) { try ClusterToken.read(fromFile: path) }
        // Group access is refused too: one rule with plasma-store's (owner only).
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
        #expect(throws: ClusterTokenError.accessibleByOthers(path, mode: 0o640)) { try ClusterToken.read(fromFile: path) }
        #expect("\(ClusterTokenError.accessibleByOthers(path, mode: 0o640))".contains("run chmod 600 \(path)"))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        // Only the final line end is dropped: leading blanks are part of the secret.
        #expect(try ClusterToken.readBytes(fromFile: path) == Array("  a long enough cluster secret".utf8))
        try Data("short\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: ClusterTokenError.fileTooShort(path, 5)) { try ClusterToken.read(fromFile: path) }
        try Data("\r\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: ClusterTokenError.empty(path)) { try ClusterToken.read(fromFile: path) }
        #expect(throws: ClusterTokenError.notRegularFile(directory.path)) { try ClusterToken.read(fromFile: directory.path) }
    }
}

/// The MAC of a small object carried in its location (``InlineCopy``).
@Suite struct InlineCopyTests {
    let location = ClusterLocation(
        id: ObjectID(bytes: Array(repeating: 5, count: 20))!, node: "a", transferAddress: "127.0.0.1:7420",
        dataSize: 3, metadataSize: 1, checksum: 7)

    @Test func aCopySignedWithTheTokenVerifiesAndAnyChangeFails() throws {
        let token = try ClusterToken(bytes: Array("the cluster token of the tests".utf8))
        let bytes: [UInt8] = [1, 2, 3, 4]
        let copy = InlineCopy(bytes: bytes, mac: token.inlineMAC(for: location, bytes: bytes))
        #expect(copy.mac.count == 32)
        #expect(token.isAuthentic(copy, of: location))
        // Other bytes, another id, node or split of the sizes, another token: each fails.
        #expect(!token.isAuthentic(InlineCopy(bytes: [1, 2, 3, 5], mac: copy.mac), of: location))
        var other = location
        other.node = "b"
        #expect(!token.isAuthentic(copy, of: other))
        other = location
        other.id = ObjectID(bytes: Array(repeating: 6, count: 20))!
        #expect(!token.isAuthentic(copy, of: other))
        other = location
        (other.dataSize, other.metadataSize) = (4, 0)
        #expect(!token.isAuthentic(copy, of: other))
        #expect(!(try ClusterToken(bytes: Array("another cluster's token, 32 bytes".utf8))).isAuthentic(copy, of: location))
        // Bytes of another length than the location's sizes never verify.
        #expect(!token.isAuthentic(InlineCopy(bytes: [1, 2, 3], mac: copy.mac), of: location))
    }

    /// Found in review: with the node name's length in 16 bits, a name 65,536 bytes longer that holds
    /// the sizes and the bytes of a real copy signed the same message as that copy, with sizes 0 and
    /// no bytes. Every length is in 64 bits now.
    @Test func aLongerNodeNameCannotCarryAnotherCopysSizesAndBytes() throws {
        let token = try ClusterToken(bytes: Array("the cluster token of the tests".utf8))
        let bytes = [UInt8](repeating: 0x41, count: 65536 - 16) + [UInt8](repeating: 0, count: 16)
        var real = location
        (real.node, real.dataSize, real.metadataSize) = ("a", 65536, 0)
        let mac = token.inlineMAC(for: real, bytes: bytes)
        #expect(token.isAuthentic(InlineCopy(bytes: bytes, mac: mac), of: real))
        let sizes: [UInt8] = [0, 0, 1, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 8)
        var forged = real
        forged.node = String(decoding: Array("a".utf8) + sizes + bytes.prefix(65536 - 16), as: UTF8.self)
        (forged.dataSize, forged.metadataSize) = (0, 0)
        #expect(forged.node.utf8.count == 65537)
        #expect(!token.isAuthentic(InlineCopy(bytes: [], mac: mac), of: forged))
    }
}
