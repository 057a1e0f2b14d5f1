import Foundation
import Glibc
import PlasmaClient
import PlasmaPosix

/// What the cluster rows run against (issue #15, item 7): a real etcd on loopback and two release
/// `plasma-store --cluster` processes (nodes `a` and `b`, from beside this executable), all started here
/// on free ports, with a cluster token in a 0600 file; everything is stopped and removed again at the end.
final class ClusterRig {
    let etcd: EtcdServer
    let a: LaunchedStore
    let b: LaunchedStore
    let clientA: PlasmaClient
    let clientB: PlasmaClient
    /// The cluster's key prefix in etcd (docs/CLUSTER.md, "Keys in etcd").
    let keyPrefix: String
    private let directory: String

    /// Everything started before a failure is stopped and removed again before the error is thrown.
    init(memory: String, announce: (String) -> Void) throws {
        let directory = NSTemporaryDirectory() + "plasma-bench-\(getpid())-cluster"
        let keyPrefix = "/plasma-bench-\(getpid())/"
        var etcd: EtcdServer?
        var stores: [LaunchedStore] = []
        var clients: [PlasmaClient] = []
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let tokenPath = directory + "/token"
            let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
            guard FileManager.default.createFile(
                atPath: tokenPath, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw BenchError.childFailed("cannot write the cluster token file \(tokenPath)")
            }
            announce("cluster rig: etcd on loopback")
            let server = try EtcdServer(directory: directory + "/etcd")
            etcd = server
            let url = "etcd://127.0.0.1:\(server.clientPort)\(keyPrefix)"
            announce("cluster rig: two stores of \(memory) with --cluster")
            for name in ["a", "b"] {
                stores.append(try LaunchedStore(memory: memory, maxClients: 64, tag: "cluster-\(name)", extraArguments: [
                    "--cluster", url, "--node-name", name, "--transfer-address", "127.0.0.1:\(try freeLoopbackPort())",
                    "--cluster-token-file", tokenPath,
                ]))
            }
            for store in stores { clients.append(try PlasmaClient(socketPath: store.socketPath, retries: 600)) }
            for client in clients { try PopulationWait.untilPopulated(client, announce: announce) }
        } catch {
            for client in clients { client.close() }
            for store in stores { store.stop() }
            etcd?.stop()
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        (self.directory, self.keyPrefix, self.etcd) = (directory, keyPrefix, etcd!)
        (a, b, clientA, clientB) = (stores[0], stores[1], clients[0], clients[1])
    }

    func stop() {
        clientA.close()
        clientB.close()
        a.stop()
        b.stop()
        etcd.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A one-member etcd on 127.0.0.1 with free client and peer ports and its data in `directory`.
final class EtcdServer {
    let clientPort: UInt16
    private let process = Process()
    private let logPath: String

    init(directory: String) throws {
        guard let binary = Self.onPath("etcd") else {
            throw BenchError.childFailed("the cluster rows need etcd on PATH: apt-get install etcd-server")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        clientPort = try freeLoopbackPort()
        let peerPort = try freeLoopbackPort()
        let client = "http://127.0.0.1:\(clientPort)", peer = "http://127.0.0.1:\(peerPort)"
        logPath = directory + ".log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--name", "plasma-bench", "--data-dir", directory,
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "plasma-bench=\(peer)",
        ]
        process.standardError = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let connection = try? EtcdConnection(port: clientPort), (try? connection.range(key: "health")) != nil { return }
            guard process.isRunning else { throw BenchError.childFailed("etcd exited early; its log: \(log.suffix(1500))") }
            usleep(20_000)
        }
        stop()
        throw BenchError.childFailed("etcd did not answer within 30 s; its log: \(log.suffix(1500))")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        unlink(logPath)
    }

    static func onPath(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}

/// One kept HTTP/1.1 connection to etcd's v3 JSON gateway (what the store's EtcdClient speaks), for
/// timing a range request: the etcd round trip the wake row is set against.
final class EtcdConnection {
    private let socket: TCPSocket
    private let port: UInt16

    init(port: UInt16) throws {
        self.port = port
        socket = try TCPSocket.connect(to: TCPEndpoint(host: "127.0.0.1", port: port), timeout: .seconds(2))
        try socket.setTimeouts(receive: .seconds(5), send: .seconds(5))
    }

    deinit { socket.close() }

    /// POST /v3/kv/range for `key`; returns the response body.
    @discardableResult
    func range(key: String) throws -> String {
        try post("/v3/kv/range", body: "{\"key\":\"\(Data(key.utf8).base64EncodedString())\"}")
    }

    /// POST /v3/kv/put of an empty value: a write, which etcd answers once it is committed (its WAL
    /// fsynced), as a store's want or location publish is.
    @discardableResult
    func put(key: String) throws -> String {
        try post("/v3/kv/put", body: "{\"key\":\"\(Data(key.utf8).base64EncodedString())\",\"value\":\"\"}")
    }

    private func post(_ path: String, body: String) throws -> String {
        let request = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        try Array(request.utf8).withUnsafeBytes { try socket.sendAll($0) }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try socket.receive(into: $0) }
            guard count > 0 else { throw BenchError.childFailed("etcd closed the connection") }
            received += chunk[..<count]
            let text = String(decoding: received, as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n") else { continue }
            let head = text[..<end.lowerBound].lowercased()
            guard head.hasPrefix("http/1.1 200") else { throw BenchError.childFailed("etcd answered: \(head.prefix(200))") }
            guard let lengthLine = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
                  let length = Int(lengthLine.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) else {
                throw BenchError.childFailed("etcd's answer has no Content-Length")
            }
            let bodyStart = text.utf8.distance(from: text.utf8.startIndex, to: end.upperBound)
            if received.count >= bodyStart + length { return String(decoding: received[bodyStart..<bodyStart + length], as: UTF8.self) }
        }
    }

    /// Whether `key` exists now.
    func exists(_ key: String) throws -> Bool { try range(key: key).contains("\"kvs\"") }

    /// p50 and p99 in µs of `count` range requests (or puts, with `writes`).
    func roundTrips(_ count: Int, writes: Bool = false) throws -> (p50: Double, p99: Double) {
        var samples: [Double] = []
        for _ in 0..<count {
            let start = ContinuousClock.now
            if writes { try put(key: "plasma-bench-probe") } else { try range(key: "plasma-bench-probe") }
            samples.append((ContinuousClock.now - start).inSeconds * 1e6)
        }
        samples.sort()
        return (samples[count / 2], samples[min(count - 1, count * 99 / 100)])
    }
}

/// A port the kernel has just handed out on loopback (free now; the process given it binds it soon after).
func freeLoopbackPort() throws -> UInt16 {
    let (socket, port) = try TCPSocket.listen(on: TCPEndpoint(host: "127.0.0.1", port: 0), backlog: 1)
    socket.close()
    return port
}
