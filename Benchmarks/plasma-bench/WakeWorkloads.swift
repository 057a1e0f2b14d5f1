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

        var generator = SystemRandomNumberGenerator()
        for id in ids {
            // Seal only once the waiter waits in the store, then a little later, so that it sleeps.
            while try client.statistics().pendingGets == 0 {}
            usleep(UInt32.random(in: 200...600, using: &generator))
            var data = [UInt8](repeating: 0, count: 64)
            data.withUnsafeMutableBytes { $0.storeBytes(of: MonotonicClock.nanoseconds(), as: UInt64.self) }
            try client.createAndSeal(id, data: data)
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        try client.delete(ids)
        let values = text.split(separator: "\n").compactMap { UInt64($0) }
        guard values.count == count else { throw BenchError.waiterFailed(text) }
        return Latencies(nanoseconds: values.sorted())
    }

    static let internalCommand = "__wake-waiter"

    /// The waiter process: gets each listed id in turn and prints nanoseconds from seal to wake.
    static func waiterMain(_ arguments: [String]) async throws {
        let (mode, socket, listPath) = (Waiter(rawValue: arguments[0])!, arguments[1], arguments[2])
        let ids = try String(contentsOfFile: listPath, encoding: .utf8).split(separator: "\n").map { ObjectID(hex: $0)! }
        var lines: [String] = []
        switch mode {
        case .blocking:
            let client = try PlasmaClient(socketPath: socket)
            for id in ids {
                guard let buffer = try client.get(id, timeout: .forever) else { throw BenchError.missing }
                lines.append(String(MonotonicClock.nanoseconds() - buffer.withUnsafeBytes { $0.load(as: UInt64.self) }))
            }
        case .async:
            let client = try AsyncPlasmaClient(socketPath: socket)
            try await awaitEach(ids, client: client, into: &lines)
        case .asyncReadLoop:
            let client = try AsyncPlasmaClient(socketPath: socket)
            try await withTaskExecutorPreference(AsyncPlasmaClient.readLoopExecutor) {
                try await awaitEach(ids, client: client, into: &lines)
            }
        }
        print(lines.joined(separator: "\n"))
    }

    /// The clock is read where the awaiting task has resumed: what a woken task can do first.
    private static func awaitEach(_ ids: [ObjectID], client: AsyncPlasmaClient, into lines: inout [String]) async throws {
        for id in ids {
            guard let buffer = try await client.get(id) else { throw BenchError.missing }
            lines.append(String(MonotonicClock.nanoseconds() - buffer.withUnsafeBytes { $0.load(as: UInt64.self) }))
        }
    }
}
