import Dispatch
import Foundation
import Logging
import PlasmaClusterCore
import PlasmaCore
import PlasmaPosix
import PlasmaTransfer

/// `transfer` and `tcp-limit` (issue #15): pulls of 64 MiB and 1 GiB objects through a ``TransferServer``
/// → ``TransferPuller`` pair over loopback TCP, between two real memfd arenas, in this process, set
/// against the loopback TCP limit (`sendfile` → `recv`, ``LoopbackTCPLimit``) measured in the same
/// invocation between the pulls (and, beside it, the same with `send` from the mapping instead of
/// `sendfile`). Each repetition takes one sample of each limit then one pull per send method,
/// alternating, after a warm-up of each (which opens the puller's connection; later pulls reuse it, as
/// a store's do). The figure is what a store's pull costs on the wire and in the checksum, not the
/// etcd round trips or the store's loop (the cluster rows measure those).
enum TransferBenchmark {
    static let names = ["transfer", "tcp-limit"]

    /// Runs the selected parts for each size; rows in order: tcp-limit per size, then transfer per size
    /// and send method.
    static func rows(sizes: [Int], repetitions: Int, transfer: Bool) throws -> [Row] {
        let slack = 1 << 20
        let arenaSize = sizes.reduce(0) { $0 + $1 + slack }
        announce("transfer arenas (2 × \(ByteCount.format(arenaSize)), populated before any timing)")
        let source = try Arena(size: arenaSize, options: .init(prefault: true))
        let destination = try Arena(size: arenaSize, options: .init(prefault: true))
        let sourceBytes = UnsafeMutableRawBufferPointer(start: source.base, count: source.size)
        fill(sourceBytes)
        let limit = try LoopbackTCPLimit(
            source: source, destination: UnsafeMutableRawBufferPointer(start: destination.base, count: destination.size))

        // The objects, one after the other in the source arena.
        var objects: [(location: ClusterLocation, offset: Int)] = []
        var offset = 0
        for size in sizes {
            let bytes = UnsafeRawBufferPointer(rebasing: sourceBytes[offset..<offset + size])
            let location = ClusterLocation(
                id: ObjectID.random(), node: "bench-a", transferAddress: "", dataSize: size, metadataSize: 0,
                checksum: XXH64.hash(bytes))
            objects.append((location, offset))
            offset += size + slack
        }
        let store = BenchObjectSource(arena: source, objects: objects)
        let token = try ClusterToken(bytes: (0..<32).map { _ in UInt8.random(in: 0...255) })
        var logger = Logger(label: "plasma-bench")
        logger.logLevel = .warning
        // The server's default first; its row is named without a suffix.
        let methods: [TransferServer.SendMethod] = transfer ? [.send, .sendfile] : []
        var servers: [TransferServer.SendMethod: TransferServer] = [:]
        for method in methods {
            var configuration = TransferServer.Configuration(address: "127.0.0.1:0", nodeName: "bench-a", token: token)
            configuration.sendMethod = method
            let server = TransferServer(configuration: configuration, source: store, logger: logger)
            try server.start()
            servers[method] = server
        }
        defer { for server in servers.values { server.stop() } }
        let puller = try TransferPuller(configuration: .init(nodeName: "bench-b", token: token), logger: logger)
        defer { puller.stop() }

        var limitRows: [Row] = []
        var transferRows: [Row] = []
        for (location, _) in objects {
            let size = location.totalSize
            let name = MachineLimits.sizeName(size)
            announce(transfer ? "transfer \(name) (\(repetitions) repetitions: tcp limit, then a pull per send method)" : "tcp-limit \(name)")
            // nonisolated(unsafe): the block is the bench's own, written by one pull at a time.
            nonisolated(unsafe) let buffer = UnsafeMutableRawBufferPointer(start: destination.base, count: size)
            func pull(_ method: TransferServer.SendMethod) throws -> Double {
                var at = location
                at.transferAddress = "127.0.0.1:\(servers[method]!.port)"
                return try timedPull(puller, PullRequest(location: at) { _, _ in buffer })
            }
            _ = try limit.sample(size)  // warm-up
            for method in methods { _ = try pull(method) }
            var limits: [Double] = []
            var sendLimits: [Double] = []
            var rates: [TransferServer.SendMethod: [Double]] = [:]
            // CPU of this process (both ends, and the loopback's softirq work they run) per GB moved:
            // what each way costs, which the load of a shared machine disturbs less than the rates.
            var cpu: [String: UInt64] = [:]
            func measured<T>(_ key: String, _ body: () throws -> T) rethrows -> T {
                let before = CPUUsage.ofThisProcess()
                defer { cpu[key, default: 0] += (CPUUsage.ofThisProcess() - before).nanoseconds }
                return try body()
            }
            for _ in 0..<repetitions {
                limits.append(try measured("limit") { try limit.sample(size) })
                sendLimits.append(try measured("limit-send") { try limit.sample(size, send: true) })
                for method in methods { rates[method, default: []].append(try measured(method.rawValue) { try pull(method) }) }
            }
            func cpuPerGB(_ key: String) -> Double { Double(cpu[key] ?? 0) / 1e9 / (Double(size * repetitions) / 1e9) }
            let sortedLimits = limits.sorted()
            // What the puller's checksum costs on its own: XXH64 over the pulled bytes, in cache or not.
            let hashStart = ContinuousClock.now
            _ = XXH64.hash(UnsafeRawBufferPointer(buffer))
            let hashRate = Double(size) / (ContinuousClock.now - hashStart).inSeconds / 1e9
            limitRows.append(Row(
                name: "tcp-limit-\(name)", figure: "\(Report.format(sortedLimits[sortedLimits.count / 2])) GB/s",
                spread: "\(Report.format(sortedLimits.first!)) … \(Report.format(sortedLimits.last!))",
                what: "loopback TCP: sendfile from a populated memfd → recv into a populated memfd mapping, \(name), one kept connection; XXH64 alone over it: \(Report.format(hashRate)) GB/s; \(String(format: "%.3f", cpuPerGB("limit"))) CPU s/GB",
                json: [("xxh64_gb_per_s", "\(hashRate)"), ("cpu_seconds_per_gb", "\(cpuPerGB("limit"))"), ("unit", "\"GB/s\""), ("median", "\(sortedLimits[sortedLimits.count / 2])"), ("min", "\(sortedLimits.first!)"),
                       ("max", "\(sortedLimits.last!)"), ("repetitions", "\(repetitions)"), ("size", "\(size)")]))
            let sortedSendLimits = sendLimits.sorted()
            let sendLimit = sortedSendLimits[sortedSendLimits.count / 2]
            limitRows.append(Row(
                name: "tcp-limit-\(name)-send", figure: "\(Report.format(sendLimit)) GB/s",
                spread: "\(Report.format(sortedSendLimits.first!)) … \(Report.format(sortedSendLimits.last!))",
                what: "loopback TCP the other way: send from the populated memfd's mapping → recv, \(name), one kept connection; \(String(format: "%.3f", cpuPerGB("limit-send"))) CPU s/GB",
                json: [("cpu_seconds_per_gb", "\(cpuPerGB("limit-send"))"), ("unit", "\"GB/s\""), ("median", "\(sendLimit)"),
                       ("min", "\(sortedSendLimits.first!)"), ("max", "\(sortedSendLimits.last!)"), ("repetitions", "\(repetitions)"), ("size", "\(size)")]))
            for method in methods {
                let sorted = rates[method]!.sorted()
                let median = sorted[sorted.count / 2]
                transferRows.append(Row(
                    name: "transfer-\(name)" + (method == .send ? "" : "-\(method.rawValue)"), figure: "\(Report.format(median)) GB/s",
                    spread: "\(Report.format(sorted.first!)) … \(Report.format(sorted.last!))",
                    what: "pull of \(name) TransferServer (\(method == .send ? "send from the memfd's mapping" : "sendfile from the memfd")) → TransferPuller (recv into the target + XXH64), loopback, kept connection; \(String(format: "%.3f", cpuPerGB(method.rawValue))) CPU s/GB",
                    json: [("cpu_seconds_per_gb", "\(cpuPerGB(method.rawValue))"), ("unit", "\"GB/s\""), ("median", "\(median)"), ("min", "\(sorted.first!)"), ("max", "\(sorted.last!)"),
                           ("repetitions", "\(repetitions)"), ("size", "\(size)"), ("send_method", "\"\(method.rawValue)\""),
                           ("send_recv_limit", "\(sendLimit)"), ("ratio_to_send_recv_limit", "\(median / sendLimit)")],
                    limited: LimitedFigure(kind: .tcp(size), value: median, samples: limits)))
            }
        }
        return limitRows + transferRows
    }

    /// GB/s of one pull: from the request to the completion (every byte received and hashed).
    private static func timedPull(_ puller: TransferPuller, _ target: PullRequest) throws -> Double {
        let done = DispatchSemaphore(value: 0)
        let outcome = PullOutcome()
        let start = ContinuousClock.now
        puller.pull(target) { result in
            outcome.set(result)
            done.signal()
        }
        done.wait()
        let seconds = (ContinuousClock.now - start).inSeconds
        if case .failure(let failure)? = outcome.value { throw BenchError.childFailed("a pull failed: \(failure)") }
        return Double(target.location.totalSize) / seconds / 1e9
    }

    /// Bytes that aren't all alike (a page of zeroes could be cheaper to move somewhere on the way).
    private static func fill(_ bytes: UnsafeMutableRawBufferPointer) {
        let words = bytes.bindMemory(to: UInt64.self)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for index in words.indices {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            words[index] = state
        }
    }

    private static func announce(_ what: String) {
        FileHandle.standardError.write(Data("running \(what)…\n".utf8))
    }
}

/// The benchmark's objects, served from its source arena; pins are counted only to check they all end.
private final class BenchObjectSource: TransferObjectSource, @unchecked Sendable {
    // @unchecked: set in init and never changed; the arena outlives the servers.
    private let arena: Arena
    private let objects: [ObjectID: (location: ClusterLocation, offset: Int)]

    init(arena: Arena, objects: [(location: ClusterLocation, offset: Int)]) {
        self.arena = arena
        self.objects = Dictionary(uniqueKeysWithValues: objects.map { ($0.location.id, $0) })
    }

    func pin(_ id: ObjectID) -> PinnedObject? {
        guard let (location, offset) = objects[id] else { return nil }
        return PinnedObject(
            id: id, arenaDescriptor: arena.descriptor, offset: offset, dataSize: location.dataSize, metadataSize: 0,
            bytes: UnsafeRawBufferPointer(start: arena.base + offset, count: location.totalSize))
    }

    func unpin(_ object: PinnedObject) {}
}

private final class PullOutcome: @unchecked Sendable {
    // @unchecked: `result` is only touched under `lock`.
    private let lock = NSLock()
    private var result: Swift.Result<PulledCopy, PullFailure>?
    func set(_ value: Swift.Result<PulledCopy, PullFailure>) { lock.withLock { result = value } }
    var value: Swift.Result<PulledCopy, PullFailure>? { lock.withLock { result } }
}
