import Foundation
import PlasmaClient
import PlasmaCore
import PlasmaPosix

/// Seal-to-wake latency: another process waits in `get` for an object; we seal it with the seal time
/// (CLOCK_MONOTONIC, the same clock in every process) written in its first 8 bytes; the waiter reports
/// how long after that it had the object.
enum WakeBenchmark {
    enum Waiter: String {
        case blocking
        case async
        /// The async client with its awaits on the read loop's thread (`AsyncPlasmaClient.readLoopExecutor`).
        case asyncReadLoop = "async-readloop"
    }

    struct Latencies {
        let nanoseconds: [UInt64]  // ascending
        func percentile(_ p: Double) -> Double {
            Double(nanoseconds[min(nanoseconds.count - 1, Int(Double(nanoseconds.count) * p))]) / 1000
        }
    }

    /// Runs `count` wakes against a waiter process of the given kind.
    static func run(socket: String, waiter: Waiter, count: Int, client: PlasmaClient) throws -> Latencies {
        let ids = (0..<count).map { _ in ObjectID.random() }
        let list = URL(fileURLWithPath: "/tmp/plasma-bench-\(getpid())-wake.ids")
        try ids.map(\.hex).joined(separator: "\n").write(to: list, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: list) }

        let child = Process()
        let output = Pipe()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = [internalCommand, waiter.rawValue, socket, list.path]
        child.standardOutput = output
        try child.run()

        // Like the round-trip limit, where two processes wake each other and nothing else runs, the
        // timed path (stamp, seal, the store's answer, the waiter's wake) has the machine to itself:
        // - the sealer sleeps for its reply, as each side of the round trip does. A sealer that spins
        //   (the client's default) holds the CPU the kernel puts the woken store on (a Unix-socket write
        //   wakes its reader on the writer's CPU), and the store would wait for the spin to end;
        // - the sealer waits for the waiter's line (the waiter writes it once it has the object) before
        //   it polls `statistics` for the next wait: that polling, a spinning client and the store
        //   answering it, would otherwise take both cores of a 2-core VM while the waiter is woken.
        // Benchmarks/README.md, "Wake latency against the round trip".
        let sealer = try PlasmaClient(socketPath: socket, spin: .zero)
        defer { sealer.close() }
        var lines = LineReader(fd: output.fileHandleForReading.fileDescriptor)
        var values: [UInt64] = []
        var generator = SystemRandomNumberGenerator()
        for id in ids {
            // Seal only once the waiter waits in the store, then a little later, so that it sleeps.
            while try client.statistics().pendingGets == 0 {}
            usleep(UInt32.random(in: idlePauseMicroseconds, using: &generator))
            var data = [UInt8](repeating: 0, count: 64)
            data.withUnsafeMutableBytes { $0.storeBytes(of: MonotonicClock.nanoseconds(), as: UInt64.self) }
            try sealer.createAndSeal(id, data: data)
            guard let line = lines.next(), let value = UInt64(line) else {
                child.waitUntilExit()
                throw BenchError.waiterFailed("the waiter stopped after \(values.count) of \(count) wakes")
            }
            values.append(value)
        }
        child.waitUntilExit()
        try client.delete(ids)
        return Latencies(nanoseconds: values.sorted())
    }

    static let internalCommand = "__wake-waiter"

    /// The waiter process: gets each listed id in turn and prints nanoseconds from seal to wake.
    static func waiterMain(_ arguments: [String]) async throws {
        let (mode, socket, listPath) = (Waiter(rawValue: arguments[0])!, arguments[1], arguments[2])
        let ids = try String(contentsOfFile: listPath, encoding: .utf8).split(separator: "\n").map { ObjectID(hex: $0)! }
        // One line per wake, written (unbuffered) once the object is here: the sealer waits for it.
        func report(_ nanoseconds: UInt64) { FileHandle.standardOutput.write(Data("\(nanoseconds)\n".utf8)) }
        switch mode {
        case .blocking:
            let client = try PlasmaClient(socketPath: socket)
            for id in ids {
                guard let buffer = try client.get(id, timeout: .forever) else { throw BenchError.missing }
                report(MonotonicClock.nanoseconds() - buffer.withUnsafeBytes { $0.load(as: UInt64.self) })
            }
        case .async:
            let client = try AsyncPlasmaClient(socketPath: socket)
            try await awaitEach(ids, client: client, report: report)
        case .asyncReadLoop:
            let client = try AsyncPlasmaClient(socketPath: socket)
            try await withTaskExecutorPreference(AsyncPlasmaClient.readLoopExecutor) {
                try await awaitEach(ids, client: client, report: report)
            }
        }
    }

    /// The clock is read where the awaiting task has resumed: what a woken task can do first.
    private static func awaitEach(
        _ ids: [ObjectID], client: AsyncPlasmaClient, report: (UInt64) -> Void
    ) async throws {
        for id in ids {
            guard let buffer = try await client.get(id) else { throw BenchError.missing }
            report(MonotonicClock.nanoseconds() - buffer.withUnsafeBytes { $0.load(as: UInt64.self) })
        }
    }
}

/// Lines from a pipe, read a buffer at a time: the waiter's reports, one per wake.
struct LineReader {
    let fd: Int32
    private var pending: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    /// The next line without its newline; nil at end of file or on a read error.
    mutating func next() -> String? {
        while true {
            if let newline = pending.firstIndex(of: 10) {
                defer { pending.removeFirst(newline + 1) }
                return String(decoding: pending[..<newline], as: UTF8.self)
            }
            var chunk = [UInt8](repeating: 0, count: 256)
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return nil }
            pending.append(contentsOf: chunk[..<count])
        }
    }
}
