import Foundation
import Glibc

/// A throwaway certificate authority and the certificates a TLS etcd test needs, made with the
/// `openssl` command (P-256 keys: quick to make): etcd's server certificate (for IP 127.0.0.1), a
/// client certificate, and a second CA that signed neither.
final class TestCertificates {
    let directory: String
    var authority: String { directory + "/ca.crt" }
    var serverCertificate: String { directory + "/server.crt" }
    var serverKey: String { directory + "/server.key" }
    var clientCertificate: String { directory + "/client.crt" }
    var clientKey: String { directory + "/client.key" }
    /// A CA that signed nothing here: a client that trusts only it must refuse etcd.
    var otherAuthority: String { directory + "/other-ca.crt" }
    /// The RSA key pair etcd signs JWT auth tokens with (`--auth-token jwt,…`).
    var jwtPrivateKey: String { directory + "/jwt.key" }
    var jwtPublicKey: String { directory + "/jwt.pub" }

    init() throws {
        directory = NSTemporaryDirectory() + "plasma-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for ca in ["ca", "other-ca"] {
            try openssl(["req", "-x509"] + curve + ["-keyout", "\(ca).key", "-out", "\(ca).crt", "-subj", "/CN=plasma test \(ca)", "-days", "2"])
        }
        // etcd's gateway connects to etcd's own gRPC port with the server certificate, so with
        // --client-cert-auth that certificate must allow client use too. The client certificate has no
        // Common Name: with authentication on, etcd would take one as the user's name, which its gateway
        // can't pass on, and refuses such a certificate at the gateway (HTTP 400).
        for (name, subject, extensions) in [
            ("server", "/CN=plasma-test-etcd", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n"),
            ("client", "/O=plasma-test-store", "extendedKeyUsage=clientAuth\n"),
        ] {
            try openssl(["req"] + curve + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject])
            try extensions.write(toFile: "\(directory)/\(name).ext", atomically: false, encoding: .utf8)
            try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                         "-out", "\(name).crt", "-days", "2", "-extfile", "\(name).ext"])
        }
        try openssl(["genrsa", "-out", "jwt.key", "2048"])
        try openssl(["rsa", "-in", "jwt.key", "-pubout", "-out", "jwt.pub"])
    }

    private func openssl(_ arguments: [String]) throws {
        let binary = "/usr/bin/openssl"
        try DebianPackage.ensure(binary: binary, package: "openssl")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure("openssl \(arguments.joined(separator: " ")): \(String(decoding: output, as: UTF8.self))")
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}

extension EtcdProcess {
    /// The root user's password once ``enableAuthentication(user:password:prefix:)`` ran.
    static let rootPassword = "the test's root password"

    /// Turns etcd's authentication on with `user` (password `password`) allowed to read and write the
    /// keys under `prefix` only.
    func enableAuthentication(user: String, password: String, prefix: String) throws {
        let rootPassword = Self.rootPassword
        var end = Array(prefix.utf8)
        end[end.count - 1] += 1
        let steps: [(String, [String: Any])] = [
            ("/v3/auth/user/add", ["name": "root", "password": rootPassword]),
            ("/v3/auth/user/grant", ["user": "root", "role": "root"]),
            ("/v3/auth/role/add", ["name": "plasma"]),
            ("/v3/auth/role/grant", ["name": "plasma", "perm": [
                "permType": "READWRITE", "key": Data(prefix.utf8).base64EncodedString(), "range_end": Data(end).base64EncodedString(),
            ] as [String: Any]]),
            ("/v3/auth/user/add", ["name": user, "password": password]),
            ("/v3/auth/user/grant", ["user": user, "role": "plasma"]),
            ("/v3/auth/enable", [:]),
        ]
        for (path, body) in steps {
            let (status, answer) = try post(path, body: body)
            guard status == 200 else { throw Failure("\(path): \(status) \(answer)") }
        }
    }

    /// A token for `user`, from etcd's gateway.
    func authenticate(user: String, password: String) throws -> String {
        let (status, answer) = try post("/v3/auth/authenticate", body: ["name": user, "password": password])
        guard status == 200, let token = answer["token"] as? String else { throw Failure("authenticate \(user): \(status) \(answer)") }
        return token
    }

    /// Turns authentication off and on again (as root): etcd forgets every token it handed out.
    func revokeEveryToken() throws {
        let rootToken = try authenticate(user: "root", password: Self.rootPassword)
        let (status, answer) = try post("/v3/auth/disable", body: [:], token: rootToken)
        guard status == 200 else { throw Failure("auth disable: \(status) \(answer)") }
        let (enabled, enableAnswer) = try post("/v3/auth/enable", body: [:])
        guard enabled == 200 else { throw Failure("auth enable: \(enabled) \(enableAnswer)") }
    }
}

/// A new file of `mode` (600 unless told) holding `secret` and a line end, in a fresh temporary path;
/// made with its mode, never readable by others before it.
func privateFile(_ secret: String, mode: mode_t = 0o600) throws -> String {
    let path = NSTemporaryDirectory() + "plasma-secret-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw Failure("create \(path): errno \(errno)") }
    defer { close(fd) }
    let bytes = Array((secret + "\n").utf8)
    guard write(fd, bytes, bytes.count) == bytes.count, fchmod(fd, mode) == 0 else { throw Failure("write \(path): errno \(errno)") }
    return path
}

extension EtcdProcess {
    /// Adds a user as root: any change of users, roles or grants makes etcd refuse older tokens
    /// ("revision of auth store is old").
    func changeAuthentication() throws {
        let root = try authenticate(user: "root", password: Self.rootPassword)
        let name = "someone-\(UInt32.random(in: 0...UInt32.max))"
        let (status, answer) = try post("/v3/auth/user/add", body: ["name": name, "password": "x"], token: root)
        guard status == 200 else { throw Failure("user add: \(status) \(answer)") }
    }
}
