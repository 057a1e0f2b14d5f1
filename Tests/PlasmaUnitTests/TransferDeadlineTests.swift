import Foundation
import PlasmaClusterCore
import PlasmaCore
import PlasmaPosix
@testable import PlasmaTransfer
import Testing

/// Review finding "A peer that knows the token can drip-feed a pull": each pull has an overall deadline
/// (base + size at the slowest allowed rate), so a byte every so often, each just inside the receive
/// timeout, can't hold a pull thread and its reserved block for long. Real loopback TCP.
@Suite struct TransferDeadlineTests {
    /// A server that knows the token, answers the pull "sending", sends `burst` bytes at once, then one
    /// byte every `interval` microseconds until the puller goes (or a minute passed); `dripped` counts
    /// the bytes it sent.
    final class DripFeeder: @unchecked Sendable {
        // @unchecked: `count` is only touched under `lock`.
        private let lock = NSLock()
        private var count = 0
        let listener: TCPSocket
        let port: UInt16
        private(set) var thread: PosixThread?

        init(size: Int, burst: Int = 0, interval: useconds_t = 50_000) throws {
            (listener, port) = try TCPSocket.listen(on: TCPEndpoint(host: "127.0.0.1", port: 0))
            thread = try PosixThread { [self] in run(size: size, burst: burst, interval: interval) }
        }

        var dripped: Int { lock.withLock { count } }

        private func run(size: Int, burst: Int, interval: useconds_t) {
            guard let (socket, session) = acceptOneRequest(on: listener) else { return }
            defer { socket.close() }
            guard (try? socket.send(session.sealReply(TransferWire.reply(.sending, dataSize: size, metadataSize: 0)))) != nil else { return }
            guard (try? socket.send([UInt8](repeating: 0x5A, count: burst))) != nil else { return }
            lock.withLock { count = burst }
            let end = MonotonicClock.nanoseconds() + 60_000_000_000
            while MonotonicClock.nanoseconds() < end, lock.withLock({ count }) < size {
                guard (try? socket.send([0x5A])) != nil else { return }  // the puller went
                lock.withLock { count += 1 }
                usleep(interval)
            }
        }
    }

    /// Pulls the feeder's object of `size` bytes under a deadline of 0.5 s + `size` at 16 MiB/s (the
    /// receive timeout stays 30 s) and checks that it fails at that deadline, well before the feeder's
    /// minute, and that the block it reserved is given back. The feeder's thread is joined.
    private func expectFailureAtTheDeadline(from feeder: DripFeeder, size: Int) throws {
        defer { feeder.listener.close() }
        let location = ClusterLocation(
            id: ObjectID.random(), node: "a", transferAddress: "127.0.0.1:\(feeder.port)", dataSize: size, metadataSize: 0, checksum: 0)
        let destination = try Arena(size: size, options: .init(prefault: true))
        let puller = try TransferTests.puller {
            $0.pullDeadlineBase = .milliseconds(500)
            $0.pullDeadlineRate = 16 << 20
        }
        defer {
            puller.stop()
            feeder.thread?.join()
        }
        let target = PullTarget(location: location, buffer: UnsafeMutableRawBufferPointer(start: destination.base, count: size))
        let start = ContinuousClock.now
        let result = TransferTests.pull(puller, target)
        let elapsed = ContinuousClock.now - start
        guard case .connection(let why)? = TransferTests.failure(result) else {
            Issue.record("not a connection failure: \(String(describing: result))")
            return
        }
        #expect(why.contains("deadline"), "\(why)")
        #expect(elapsed < .seconds(20), "ended by the deadline (0.5 s + \(size) B at 16 MiB/s), not the feeder's minute: \(elapsed)")
        #expect(target.reserves.value == 1, "the block was reserved, and is given back by the failure")
        #expect(feeder.dripped < size, "the feeder was still dripping")
    }

    /// A byte every 50 ms into a 1 MiB object: a deadline of about 0.56 s.
    @Test func aDripFedPullFailsAtItsDeadlineNotAtTheReceiveTimeout() throws {
        try expectFailureAtTheDeadline(from: try DripFeeder(size: 1 << 20), size: 1 << 20)
    }

    /// A byte every millisecond after 2 MiB of a 4 MiB object (a deadline of about 0.75 s): receives
    /// come faster than the pull cuts its receive timeout again (every 5 ms), and the bytes go through
    /// the ``HashStage``. The pull still ends at its deadline.
    @Test func aFastDripAfterABurstStillEndsAtTheDeadline() throws {
        let feeder = try DripFeeder(size: 4 << 20, burst: 2 << 20, interval: 1_000)
        try expectFailureAtTheDeadline(from: feeder, size: 4 << 20)
        #expect(feeder.dripped > 2 << 20, "the drip after the burst had begun")
    }
}
