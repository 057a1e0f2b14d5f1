import ArgumentParser

/// The flags that reach a secured etcd, shared by `plasma-store --cluster` and `plasma cluster`: TLS
/// files (with an `etcds://` URL) and an etcd user. Each executable turns them into an `EtcdSecurity`.
public struct EtcdSecurityOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("etcd-ca-file"),
            help: ArgumentHelp("PEM file of the CA that signed etcd's certificate (with an etcds:// URL; default: the system's roots).", valueName: "path"))
    public var trustedCAFile: String?

    @Option(name: .customLong("etcd-cert-file"),
            help: ArgumentHelp("PEM client certificate, for an etcd that checks its clients' certificates (with --etcd-key-file).", valueName: "path"))
    public var certificateFile: String?

    @Option(name: .customLong("etcd-key-file"),
            help: ArgumentHelp("PEM private key of --etcd-cert-file.", valueName: "path"))
    public var privateKeyFile: String?

    @Option(name: .customLong("etcd-user"),
            help: ArgumentHelp("etcd user to authenticate as, where etcd's auth is enabled (with --etcd-password-file).", valueName: "name"))
    public var user: String?

    @Option(name: .customLong("etcd-password-file"),
            help: ArgumentHelp("File holding --etcd-user's password (readable by its owner only).", valueName: "path"))
    public var passwordFile: String?

    /// No flags: what ArgumentParser starts from.
    public init() {}

    /// Whether any flag is given.
    public var isEmpty: Bool { [trustedCAFile, certificateFile, privateKeyFile, user, passwordFile].allSatisfy { $0 == nil } }

    /// Checks the flags against the etcd URL they go with (nil: no URL, so none may be given).
    public func validate(url: String?) throws {
        guard let url else {
            if !isEmpty { throw ValidationError("the --etcd-* flags need an etcd URL (--cluster)") }
            return
        }
        let tlsFiles = [("--etcd-ca-file", trustedCAFile), ("--etcd-cert-file", certificateFile), ("--etcd-key-file", privateKeyFile)]
            .filter { $0.1 != nil }.map(\.0)
        if !tlsFiles.isEmpty, !url.hasPrefix("etcds://") {
            throw ValidationError("\(tlsFiles.joined(separator: ", ")) need an etcds:// URL (TLS), not '\(url)'")
        }
        if (certificateFile == nil) != (privateKeyFile == nil) { throw ValidationError("--etcd-cert-file and --etcd-key-file go together") }
        if (user == nil) != (passwordFile == nil) { throw ValidationError("--etcd-user and --etcd-password-file go together") }
    }
}
