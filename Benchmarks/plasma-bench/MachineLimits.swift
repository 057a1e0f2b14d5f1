import Foundation
import PlasmaClient
import PlasmaPosix
import PlasmaToolSupport

/// The machine's own limits, measured in the invocation that measures the store, between its
/// repetitions: these VMs vary by 2× from day to day (and by more from minute to minute while anything
/// else runs), so a figure means something only beside a limit measured at the same moment.
///
/// - copy: `copyMemory` (glibc `memmove`) of an object's size from the same private source buffer into
///   an already-populated memfd mapping: what one thread's copy does at best (the limit).
/// - parallel copy: the same copy through `ParallelCopy` on N threads, the routine `put-large` uses
///   (the client's write): what a put on N threads does at best.
/// - read: `readEveryByte` (the routine `get-large` uses) over an already-populated memfd mapping.
/// - loopback TCP: `sendfile` from a populated memfd → `recv` into a populated memfd mapping over one
///   127.0.0.1 connection (LoopbackTCPLimit): what a pull between two stores does at best.
/// - round trip: 32 bytes to another process over a Unix socket and back: what one request costs at best,
///   with both sides polling (set against ops/s rows), or with both sleeping in read (set against the
///   wake rows, whose waiter sleeps).
final class MachineLimits {
    /// Populated memfd mappings by size, made on first use (populating 1 GiB takes seconds: never timed).
    private var targets: [Int: Arena] = [:]
    private var peers: [RoundTripMode: RoundTripPeer] = [:]
    private var tcpLimits: [Int: LoopbackTCPLimit] = [:]

    /// Round trips per round-trip sample.
    static let roundTrips = 2_000

    /// One sample of the limit `kind` is set against, in its unit (GB/s, ops/s or µs).
    func sample(_ kind: LimitKind) throws -> Double {
        switch kind {
        case .copy(let size): try passes(size) { target, source in target.copyMemory(from: source) }
        case .parallelCopy(let size, let threads): try passes(size) { target, source in Self.copy(threads, target, source) }
        case .read(let size): try passes(size) { target, _ in _ = readEveryByte(UnsafeRawBufferPointer(target)) }
        case .roundTripRate: 1e6 / (try roundTrip(.polling))
        case .roundTripLatency: try roundTrip(.sleeping)
        case .roundTripAfterIdle: try roundTrip(.afterIdle)
        case .tcp(let size): try tcpLimit(size).sample(size)
        }
    }

    /// One pass of a copy or read limit (`large-breakdown` pairs each operation with one); nil for
    /// the round-trip kinds.
    func onePass(_ kind: LimitKind) throws -> Double? {
        switch kind {
        case .copy(let size): try passes(size, count: 1) { target, source in target.copyMemory(from: source) }
        case .parallelCopy(let size, let threads): try passes(size, count: 1) { target, source in Self.copy(threads, target, source) }
        case .read(let size): try passes(size, count: 1) { target, _ in _ = readEveryByte(UnsafeRawBufferPointer(target)) }
        case .roundTripRate, .roundTripLatency, .roundTripAfterIdle, .tcp: nil
        }
    }

    /// `source` into `target` on `threads` threads, chunked as the client's write chunks it.
    private static func copy(_ threads: Int, _ target: UnsafeMutableRawBufferPointer, _ source: UnsafeRawBufferPointer) {
        ParallelCopy(threads: threads, threshold: 0).copy(into: target.baseAddress!, from: source.baseAddress!, count: source.count)
    }

    /// GB/s of `body` over a populated mapping of `size`: the median of `count` passes (default three;
    /// one for 1 GiB and more, which takes long enough on its own).
    private func passes(
        _ size: Int, count: Int? = nil, _ body: (UnsafeMutableRawBufferPointer, UnsafeRawBufferPointer) -> Void
    ) throws -> Double {
        let target = try targets[size] ?? Arena(size: size, options: .init(prefault: true))
        targets[size] = target
        let buffer = UnsafeMutableRawBufferPointer(start: target.base, count: size)
        let source = CopySource.buffer(size)
        var rates: [Double] = []
        for _ in 0..<(count ?? (size >= 1 << 30 ? 1 : 3)) {
            let start = ContinuousClock.now
            body(buffer, source)
            rates.append(Double(size) / (ContinuousClock.now - start).inSeconds / 1e9)
        }
        return rates.sorted()[rates.count / 2]
    }

    /// A loopback TCP connection between two populated memfds of `size` (the transfer rows keep their
    /// own, over their arenas: TransferBenchmark).
    private func tcpLimit(_ size: Int) throws -> LoopbackTCPLimit {
        if let limit = tcpLimits[size] { return limit }
        let source = try Arena(size: size, options: .init(prefault: true))
        let destination = try targets[size] ?? Arena(size: size, options: .init(prefault: true))
        targets[size] = destination
        let limit = try LoopbackTCPLimit(source: source, destination: UnsafeMutableRawBufferPointer(start: destination.base, count: size))
        tcpLimits[size] = limit
        return limit
    }

    /// p50 in µs of `roundTrips` round trips to the peer process of `mode` (started on first use); a
    /// quarter as many after idle, each of which waits 0.2-0.6 ms twice.
    private func roundTrip(_ mode: RoundTripMode) throws -> Double {
        let peer = try peers[mode] ?? RoundTripPeer(mode: mode)
        peers[mode] = peer
        return try peer.p50(of: mode == .afterIdle ? Self.roundTrips / 4 : Self.roundTrips)
    }

    /// "64MiB", "1GiB": sizes as the rows name them.
    static func sizeName(_ size: Int) -> String {
        size % (1 << 30) == 0 ? "\(size >> 30)GiB" : "\(size >> 20)MiB"
    }
}

/// How the two ends of a round-trip measurement wait for each other's message.
enum RoundTripMode: String {
    /// Both spin on a nonblocking socket: the floor of a request and its reply when neither side sleeps
    /// (what the store's --busy-poll and the client's spin aim at). Set against ops/s rows.
    case polling
    /// Both block in read, back to back: each message wakes a sleeping process, as a seal wakes a
    /// waiter (Benchmarks/limits.sh measures the same). Set against the wake rows.
    case sleeping
    /// Both block in read, and each waits 0.2-0.6 ms before it sends, as the wake rows' sealer does
    /// before each seal: each message wakes a process that has slept that long, as the seal's request
    /// wakes the store and its answer the waiter. The two hops are timed one way each (the sender's
    /// CLOCK_MONOTONIC in the message), without the waits. Reported beside the wake rows, to tell
    /// what a wake-up after such a sleep costs on the machine (on a `cpuidle-haltpoll` guest an idle
    /// CPU polls for a while before it halts) from what the wake path adds (Benchmarks/README.md,
    /// "Wake latency against the round trip").
    case afterIdle = "after-idle"
}

/// The pause before each send of an after-idle round trip: the wake rows' own (WakeWorkloads.swift).
let idlePauseMicroseconds: ClosedRange<UInt32> = 200...600

/// This executable in `role` in another process, echoing 32-byte messages over a Unix socket.
final class RoundTripPeer {
    static let role = "__ping-pong"
    let mode: RoundTripMode
    private let child: ChildProcess
    private let socket: UnixSocket
    private let directory: URL

    init(mode: RoundTripMode) throws {
        self.mode = mode
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("plasma-bench-\(getpid())-\(mode)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("ping.sock").path
        let listener = try UnixSocket.listen(path: path, mode: 0o600, backlog: 1)
        defer { listener.close() }
        child = try ChildProcess(role: Self.role, [path, mode.rawValue])
        try listener.waitUntilReadable()
        guard let socket = try listener.accept() else { throw BenchError.childFailed("the round-trip peer didn't connect") }
        self.socket = socket
        // Sleeping: blocking reads. Polling: nonblocking, spun on. After idle: nonblocking, waiting in
        // poll, as our clients do: a side sleeping in read would be woken early when the other reads its
        // message (a Unix socket's write-space wake-up) and, on one CPU, could delay the other's stamp.
        try socket.setNonBlocking(mode != .sleeping)
    }

    deinit {
        socket.close()  // the peer sees EOF and exits
        _ = child.finish()
        try? FileManager.default.removeItem(at: directory)
    }

    /// p50 in µs of `count` round trips.
    func p50(of count: Int) throws -> Double {
        var message = [UInt8](repeating: 1, count: 32)
        var samples: [UInt64] = []
        samples.reserveCapacity(count)
        if mode == .afterIdle {
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<count {
                usleep(UInt32.random(in: idlePauseMicroseconds, using: &generator))
                Self.stamp(&message, at: 0, MonotonicClock.nanoseconds())
                try message.withUnsafeBytes { try socket.writeAll($0) }
                guard try Self.receive(&message, on: socket, polling: false) else {
                    throw BenchError.childFailed("the round-trip peer hung up")
                }
                let arrived = MonotonicClock.nanoseconds()
                // The peer's reply: the first hop's time, and its own send time for the second hop.
                samples.append(Self.stamp(in: message, at: 8) + (arrived - Self.stamp(in: message, at: 16)))
            }
            return Double(samples.sorted()[count / 2]) / 1000
        }
        for _ in 0..<count {
            let start = MonotonicClock.nanoseconds()
            try message.withUnsafeBytes { try socket.writeAll($0) }
            guard try Self.receive(&message, on: socket, polling: mode == .polling) else {
                throw BenchError.childFailed("the round-trip peer hung up")
            }
            samples.append(MonotonicClock.nanoseconds() - start)
        }
        return Double(samples.sorted()[count / 2]) / 1000
    }

    /// Fills `message`: spinning on a nonblocking socket, or in blocking reads. false at EOF. A poller
    /// that has spun for a millisecond with nothing to show sleeps until the socket is readable, so
    /// that between samples it doesn't take a core from what the benchmark measures.
    private static func receive(_ message: inout [UInt8], on socket: UnixSocket, polling: Bool) throws -> Bool {
        guard polling else { return try message.withUnsafeMutableBytes { try socket.readExactly(into: $0) } }
        var filled = 0
        var spinningSince = MonotonicClock.nanoseconds()
        while filled < message.count {
            let count = try message.withUnsafeMutableBytes {
                try socket.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...]))
            }
            guard let count else {
                if MonotonicClock.nanoseconds() - spinningSince > 1_000_000 {
                    try socket.waitUntilReadable()
                    spinningSince = MonotonicClock.nanoseconds()
                }
                continue
            }
            if count == 0 { return false }
            filled += count
        }
        return true
    }

    /// The peer's side: connect, echo 32-byte messages until EOF, waiting as `mode` says. After idle,
    /// the reply carries the first hop's time and is sent after a pause, stamped.
    static func main(_ arguments: [String]) throws {
        let socket = try UnixSocket.connect(path: arguments[0])
        defer { socket.close() }
        let mode = RoundTripMode(rawValue: arguments[1])
        let polling = mode == .polling
        try socket.setNonBlocking(mode != .sleeping)  // as in init
        var message = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        while try receive(&message, on: socket, polling: polling) {
            if mode == .afterIdle {
                stamp(&message, at: 8, MonotonicClock.nanoseconds() - stamp(in: message, at: 0))
                usleep(UInt32.random(in: idlePauseMicroseconds, using: &generator))
                stamp(&message, at: 16, MonotonicClock.nanoseconds())
            }
            try message.withUnsafeBytes { try socket.writeAll($0) }
        }
    }

    private static func stamp(_ message: inout [UInt8], at offset: Int, _ value: UInt64) {
        message.withUnsafeMutableBytes { $0.storeBytes(of: value, toByteOffset: offset, as: UInt64.self) }
    }

    private static func stamp(in message: [UInt8], at offset: Int) -> UInt64 {
        message.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }
    }
}
