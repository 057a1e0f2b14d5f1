#if Cluster
import AsyncHTTPClient
import NIOSSL
import PlasmaClusterCore
import Synchronization

/// What a secured etcd asks of its clients: the CA to verify it by and a client certificate (with an
/// `etcds://` URL), and an etcd user (etcd's `auth enable`), each as etcd allows (docs/SECURITY.md).
/// Files are read when a client is made; a store reads them again only when it restarts.
public struct EtcdSecurity: Sendable, Hashable {
    /// The TLS files: the CA that signed etcd's certificate, and this client's certificate and key for
    /// etcd's `--client-cert-auth`.
    public struct TLSFiles: Sendable, Hashable {
        /// PEM file of the CA(s) etcd's certificate must chain to; nil: the system's trusted roots.
        public var trustedCAFile: String?
        /// PEM file of this client's certificate (chain), given with ``privateKeyFile``.
        public var certificateFile: String?
        /// PEM file of the client certificate's private key.
        public var privateKeyFile: String?

        /// Files as given; nil for what isn't used.
        public init(trustedCAFile: String? = nil, certificateFile: String? = nil, privateKeyFile: String? = nil) {
            self.trustedCAFile = trustedCAFile
            self.certificateFile = certificateFile
            self.privateKeyFile = privateKeyFile
        }
    }

    /// An etcd user: requests carry the token etcd hands out for its name and password.
    public struct User: Sendable, Hashable, CustomStringConvertible, CustomReflectable {
        /// The user's name in etcd.
        public var name: String
        /// The password as given, or as its file held it when read last; never logged or printed.
        private var password: String
        /// The file the password is read from again at each authentication, if any.
        private var passwordFile: String?

        /// A user with its password.
        public init(name: String, password: String) {
            self.name = name
            self.password = password
        }

        /// A user whose password is in a file readable by its owner only (``SecretFile``'s rule), as
        /// the cluster token is. Read now, so that a bad file stops a store at start, and again at
        /// each authentication, so that a password changed in etcd and in the file needs no restart.
        public init(name: String, passwordFile: String) throws(EtcdError) {
            self.name = name
            self.passwordFile = passwordFile
            password = try Self.read(passwordFile)
        }

        /// The password to authenticate with now.
        func currentPassword() throws(EtcdError) -> String {
            guard let passwordFile else { return password }
            return try Self.read(passwordFile)
        }

        private static func read(_ path: String) throws(EtcdError) -> String {
            do {
                return String(decoding: try SecretFile.read(path, maximumBytes: 4096), as: UTF8.self)
            } catch {
                throw .invalidSecurity("etcd password file \(error)")
            }
        }

        /// The name only.
        public var description: String { "etcd user '\(name)'" }

        /// The name only, so that `dump` and debuggers don't show the password either.
        public var customMirror: Mirror { Mirror(self, children: ["name": name]) }
    }

    /// TLS files (used with an `etcds://` URL only).
    public var tls: TLSFiles
    /// The etcd user, or nil where etcd's authentication is off.
    public var user: User?

    /// Neither certificates nor a user: plain etcd, or TLS verified by the system's roots.
    public static let none = EtcdSecurity()

    /// Security as given.
    public init(tls: TLSFiles = TLSFiles(), user: User? = nil) {
        self.tls = tls
        self.user = user
    }

    /// Security from the command line's flags (`--etcd-*`): the user's password read from its file now.
    public init(
        trustedCAFile: String?, certificateFile: String?, privateKeyFile: String?, user: String?, passwordFile: String?
    ) throws(EtcdError) {
        tls = TLSFiles(trustedCAFile: trustedCAFile, certificateFile: certificateFile, privateKeyFile: privateKeyFile)
        switch (user, passwordFile) {
        case (nil, nil): self.user = nil
        case (let name?, let file?): self.user = try User(name: name, passwordFile: file)
        default: throw .invalidSecurity("an etcd user needs its password file, and a password file its user")
        }
    }

    /// Why these settings can't be used with `endpoints`, or nil: TLS files need an `etcds://` URL, and
    /// a client certificate needs its key (and the key its certificate).
    public func problem(with endpoints: EtcdEndpoints) -> String? {
        let files = [tls.trustedCAFile, tls.certificateFile, tls.privateKeyFile].compactMap { $0 }
        if !files.isEmpty, !endpoints.usesTLS { return "TLS files are given but the URL is not etcds://" }
        if (tls.certificateFile == nil) != (tls.privateKeyFile == nil) {
            return "a client certificate needs both its certificate file and its key file"
        }
        return nil
    }

    /// A warning for settings that work but expose a secret, or nil: an etcd user over plain HTTP sends
    /// its password to etcd, and etcd's tokens with every request, in clear.
    public func warning(with endpoints: EtcdEndpoints) -> String? {
        guard let user, !endpoints.usesTLS else { return nil }
        return "\(user) over plain etcd://: its password and etcd's tokens cross the network in clear; use etcds:// (TLS) unless etcd is reached over loopback or a network you trust"
    }

    /// The HTTP client for `endpoints`: the shared plain one, or one per set of TLS files (made once per
    /// process and kept, like the plain one: it lives as long as the process).
    func httpClient(for endpoints: EtcdEndpoints) throws(EtcdError) -> HTTPClient {
        if let problem = problem(with: endpoints) { throw .invalidSecurity(problem) }
        guard endpoints.usesTLS else { return EtcdClient.http }
        return try Self.tlsClients.withLock { clients throws(EtcdError) in
            if let client = clients[tls] { return client }
            let client = EtcdClient.makeHTTPClient(tls: try tlsConfiguration())
            clients[tls] = client
            return client
        }
    }

    private static let tlsClients = Mutex<[TLSFiles: HTTPClient]>([:])

    /// The TLS configuration, with every file read now: a missing or unreadable file is an error at
    /// start, not at the first handshake.
    private func tlsConfiguration() throws(EtcdError) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = tls.trustedCAFile {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
            }
            if let certificate = tls.certificateFile, let key = tls.privateKeyFile {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
        } catch {
            throw .invalidSecurity("etcd TLS files (\(tls.filesDescription)): \(error)")
        }
        return configuration
    }
}

extension EtcdSecurity.TLSFiles {
    /// The files given, for an error message.
    var filesDescription: String {
        [("CA", trustedCAFile), ("certificate", certificateFile), ("key", privateKeyFile)]
            .compactMap { name, path in path.map { "\(name) \($0)" } }.joined(separator: ", ")
    }
}
#endif
