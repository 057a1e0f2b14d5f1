#if Cluster
import Foundation
import Glibc
import PlasmaClient
import PlasmaCore
import PlasmaEtcd
import PlasmaTestSupport
import Testing

/// A real etcd and `plasma-store --cluster` processes on loopback, for cross-node tests: each store gets
/// a transfer port the kernel just handed out, and all share one token file (mode 600) unless told.
final class CrossNodeCluster {
    let etcd: EtcdProcess
    let url: String
    let keyPrefix: String
    let token: String

    init() throws {
        etcd = try EtcdProcess()
        url = etcd.url()
        keyPrefix = try EtcdEndpoints(url: url).keyPrefix
        token = try Self.tokenFile("the cluster's shared secret")
    }

    /// A token file of mode 600 holding `secret` (at least 16 bytes, as an operator would use).
    static func tokenFile(_ secret: String) throws -> String {
        let path = NSTemporaryDirectory() + "plasma-token-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try (secret + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o600)
        return path
    }

    /// Starts node `name` and waits until it serves (it registers in etcd before it serves).
    func start(_ name: String, memory: String = "96M", leaseTTL: Int = 60, token: String? = nil, arguments: [String] = []) throws -> StoreProcess {
        // Another transfer port at each attempt.
        try withPortsTakenRetried(portTaken: { ($0 as? Failure)?.description.contains("in use") == true }) {
            try StoreProcess(memory: memory, arguments: [
                "--cluster", url, "--node-name", name, "--transfer-address", "127.0.0.1:\(try freeLoopbackPort())",
                "--cluster-token-file", token ?? self.token, "--cluster-lease-ttl", String(leaseTTL),
            ] + arguments)
        }
    }

    /// Puts `value` at `key` under the cluster's prefix, as anyone who can write etcd could.
    func put(_ key: String, value: [UInt8]) throws {
        let body: [String: Any] = ["key": Data((keyPrefix + key).utf8).base64EncodedString(), "value": Data(value).base64EncodedString()]
        _ = try etcd.post("/v3/kv/put", body: body)
    }

    /// Deletes `key` under the cluster's prefix.
    func delete(_ key: String) throws {
        _ = try etcd.post("/v3/kv/deleterange", body: ["key": Data((keyPrefix + key).utf8).base64EncodedString()])
    }

    /// Names of the keys under `folder` (e.g. `"wants/"`), without the prefix; read with etcd's range.
    func keys(_ folder: String) throws -> [String] {
        let prefix = keyPrefix + folder
        var end = Array(prefix.utf8)
        end[end.count - 1] += 1
        let body: [String: Any] = [
            "key": Data(prefix.utf8).base64EncodedString(), "range_end": Data(end).base64EncodedString(), "keys_only": true,
        ]
        let reply = try etcd.post("/v3/kv/range", body: body).answer
        let kvs = reply["kvs"] as? [[String: Any]] ?? []
        return kvs.compactMap { ($0["key"] as? String).flatMap { Data(base64Encoded: $0) } }
            .map { String(decoding: $0, as: UTF8.self).dropFirst(prefix.count) }.map(String.init).sorted()
    }

    /// `keys(folder)` for a failure message.
    func describe(_ folder: String) -> String { (try? keys(folder)).map { "\($0)" } ?? "(etcd unreadable)" }

    /// Node names `plasma cluster --json` lists.
    func listedNodes() throws -> [String] {
        let run = try IntegrationTests.PlasmaRun(["cluster", "--cluster", url, "--json"], socket: nil).finish()
        guard run.status == 0 else { throw Failure("plasma cluster: \(run.err)") }
        let nodes = try JSONSerialization.jsonObject(with: run.stdout) as? [[String: Any]] ?? []
        return nodes.compactMap { $0["name"] as? String }
    }

    deinit { unlink(token) }
}

extension StoreProcess {
    /// The store's statistics, read over a fresh connection.
    func stats() throws -> StoreStatistics { try connect().statistics() }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// SIGKILL, then waits for the exit.
    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Puts a sealed object of `size` seeded bytes.
    func putSeeded(_ id: ObjectID, size: Int, seed: UInt64) throws {
        try connect().put(id, size: size) { fillSeeded($0, seed: seed) }
    }
}

/// What a get on another thread saw.
enum GetOutcome: Sendable, Equatable {
    case absent
    case seededBytes(seed: UInt64)
    case otherBytes(count: Int)
}

/// A get of `id` with `timeout`, on its own thread and its own connection; it checks the bytes against
/// each seed in `seeds` (the get itself returns no sooner than the object or the timeout).
func backgroundGet(_ store: StoreProcess, _ id: ObjectID, timeout: Wait, size: Int, seeds: [UInt64]) -> BackgroundCall<GetOutcome> {
    let path = store.socketPath
    return BackgroundCall {
        let client = try PlasmaClient(socketPath: path)
        guard let buffer = try client.get(id, timeout: timeout) else { return .absent }
        return buffer.withUnsafeBytes { bytes in
            for seed in seeds where bytes.count == size && matchesSeeded(bytes, seed: seed) { return .seededBytes(seed: seed) }
            return .otherBytes(count: bytes.count)
        }
    }
}

/// SplitMix64 words from `seed`: fast enough for a 1 GiB payload in a debug build.
func fillSeeded(_ buffer: UnsafeMutableRawBufferPointer, seed: UInt64) {
    var random = SeededRandom(seed: seed)
    guard let base = buffer.baseAddress else { return }
    let words = buffer.count / 8
    for index in 0..<words { base.storeBytes(of: random.next(), toByteOffset: index * 8, as: UInt64.self) }
    for index in words * 8..<buffer.count { base.storeBytes(of: UInt8(truncatingIfNeeded: random.next()), toByteOffset: index, as: UInt8.self) }
}

func matchesSeeded(_ buffer: UnsafeRawBufferPointer, seed: UInt64) -> Bool {
    var random = SeededRandom(seed: seed)
    guard let base = buffer.baseAddress else { return buffer.isEmpty }
    let words = buffer.count / 8
    for index in 0..<words where base.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self) != random.next() { return false }
    for index in words * 8..<buffer.count where base.load(fromByteOffset: index, as: UInt8.self) != UInt8(truncatingIfNeeded: random.next()) { return false }
    return true
}
extension StoreProcess {
    /// `--transfer-address`, as it was started with.
    var transferAddress: String {
        let arguments = process.arguments ?? []
        guard let flag = arguments.firstIndex(of: "--transfer-address"), flag + 1 < arguments.count else { return "" }
        return arguments[flag + 1]
    }
}
#endif
