import Foundation
import Glibc

/// A real etcd for one test: on loopback, on free ports, with a temporary data directory that outlives
/// `stop()` so that `start()` brings the same cluster back. When `etcd` is missing it is installed with
/// apt-get (Debian's etcd-server) if the test runs as root; otherwise the test fails saying so.
final class EtcdProcess {
    private(set) var clientPort: UInt16 = 0
    private(set) var peerPort: UInt16 = 0
    private(set) var dataDirectory = ""
    /// With TLS: the certificates etcd serves and checks clients by (`--client-cert-auth`).
    let tls: TestCertificates?
    /// A plain-HTTP client port beside the TLS one, for the test's own set-up and health checks (the
    /// client port itself when there is no TLS).
    private(set) var plainPort: UInt16 = 0
    private var process: Process?
    private var logURL = URL(fileURLWithPath: "/dev/null")

    /// `etcd://127.0.0.1:PORT/PREFIX` (`etcds://` with TLS): a prefix of its own keeps each test's keys
    /// apart.
    func url(prefix: String = "test-\(UInt32.random(in: 0...UInt32.max))") -> String {
        "\(tls == nil ? "etcd" : "etcds")://127.0.0.1:\(clientPort)/\(prefix)"
    }

    /// Signs auth tokens as JWTs (etcd's advice for production) with these keys, instead of etcd's
    /// default simple tokens.
    let jwtKeys: TestCertificates?

    init(tls: TestCertificates? = nil, jwtKeys: TestCertificates? = nil) throws {
        try Self.ensureInstalled()
        self.tls = tls
        self.jwtKeys = jwtKeys
        // New ports and a new data directory at each attempt.
        try withPortsTakenRetried(portTaken: { _ in self.log.contains("address already in use") }) {
            clientPort = try freeLoopbackPort()
            plainPort = tls == nil ? clientPort : try freeLoopbackPort()
            peerPort = try freeLoopbackPort()
            dataDirectory = NSTemporaryDirectory() + "plasma-etcd-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            logURL = URL(fileURLWithPath: dataDirectory + ".log")
            try start()
        }
    }

    static let binary = "/usr/bin/etcd"

    private static func ensureInstalled() throws { try DebianPackage.ensure(binary: binary, package: "etcd-server") }

    /// Starts etcd (again, on the same ports and data) and waits until /health answers true.
    func start() throws {
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let etcd = Process()
        etcd.executableURL = URL(fileURLWithPath: Self.binary)
        let peer = "http://127.0.0.1:\(peerPort)"
        let client = "\(tls == nil ? "http" : "https")://127.0.0.1:\(clientPort)"
        let listen = tls == nil ? client : "\(client),http://127.0.0.1:\(plainPort)"
        etcd.arguments = [
            "--name", "plasma-test", "--data-dir", dataDirectory,
            "--listen-client-urls", listen, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", "plasma-test=\(peer)",
        ]
        if let jwtKeys {
            etcd.arguments! += ["--auth-token", "jwt,pub-key=\(jwtKeys.jwtPublicKey),priv-key=\(jwtKeys.jwtPrivateKey),sign-method=RS256"]
        }
        if let tls {
            etcd.arguments! += [
                "--cert-file", tls.serverCertificate, "--key-file", tls.serverKey,
                "--trusted-ca-file", tls.authority, "--client-cert-auth",
            ]
        }
        etcd.standardError = try FileHandle(forWritingTo: logURL)
        etcd.standardOutput = FileHandle.nullDevice
        try etcd.run()
        process = etcd
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if healthy() { return }
            guard etcd.isRunning else { throw Failure("etcd exited early: \(log.suffix(2000))") }
            usleep(20_000)
        }
        throw Failure("etcd not healthy after 30 s: \(log.suffix(2000))")
    }

    /// SIGTERM, then waits for the exit; the data stays for `start()`.
    func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        self.process = nil
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// GET /health on the plain port answers `{"health":"true"}`.
    func healthy() -> Bool {
        guard let response = try? exchange("GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n") else { return false }
        return String(decoding: response, as: UTF8.self).contains("\"health\":\"true\"")
    }

    /// One HTTP/1.0 request to the plain port, and the whole response (it ends when etcd closes).
    private func exchange(_ head: String, body: Data = Data()) throws -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket: errno \(errno)") }
        defer { close(fd) }
        var address = loopbackAddress(port: plainPort)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure("etcd unreachable: errno \(errno)") }
        let request = Array(head.utf8) + body
        guard write(fd, request, request.count) == request.count else { throw Failure("write to etcd: errno \(errno)") }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fd, &chunk, chunk.count)
            guard count > 0 else { break }
            response += chunk[..<count]
        }
        return response
    }

    /// One JSON request to etcd's gateway on the plain port, with an auth token if given: the HTTP
    /// status and the JSON answer.
    func post(_ path: String, body: [String: Any], token: String? = nil) throws -> (status: Int, answer: [String: Any]) {
        let json = try JSONSerialization.data(withJSONObject: body)
        let authorization = token.map { "Authorization: \($0)\r\n" } ?? ""
        let head = "POST \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\(authorization)Content-Length: \(json.count)\r\n\r\n"
        let text = String(decoding: try exchange(head, body: json), as: UTF8.self)
        guard let start = text.range(of: "\r\n\r\n"), let status = Int(text.split(separator: " ").dropFirst().first ?? "") else {
            throw Failure("etcd answered: \(text)")
        }
        // An error answer may be followed by a gRPC trailer line: the JSON object is the first line.
        let firstLine = text[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: true).first ?? ""
        let object = try JSONSerialization.jsonObject(with: Data(firstLine.utf8))
        return (status, object as? [String: Any] ?? [:])
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: dataDirectory)
        try? FileManager.default.removeItem(at: logURL)
    }
}

func loopbackAddress(port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}

/// `body`, run again (up to 5 times in all) while it fails because a port `freeLoopbackPort()` handed
/// out was taken before the process bound it (by another test's process, or as the source port of a
/// connection); `portTaken` tells that failure from others.
func withPortsTakenRetried<T>(portTaken: (any Error) -> Bool, _ body: () throws -> T) throws -> T {
    var attempt = 1
    while true {
        do {
            return try body()
        } catch where attempt < 5 && portTaken(error) {
            attempt += 1
        }
    }
}

/// A port the kernel has just handed out on loopback (free now; etcd binds it soon after).
func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw Failure("socket: errno \(errno)") }
    defer { close(fd) }
    var address = loopbackAddress(port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw Failure("bind to a free loopback port: errno \(errno)") }
    return UInt16(bigEndian: address.sin_port)
}
