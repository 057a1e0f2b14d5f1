#if Cluster
/// Where etcd is and which part of its key space is ours, from `etcd://host:port[,host:port...][/prefix]`
/// (plain HTTP) or `etcds://…` (TLS; certificates and an etcd user are ``EtcdSecurity``'s).
public struct EtcdEndpoints: Sendable, Equatable {
    /// `host:port` of each member, tried in order (the next on failure).
    public var hosts: [String]
    /// Prepended to every key: starts and ends with `/`.
    public var keyPrefix: String
    /// The members are reached over TLS (`etcds://`), verified against ``EtcdSecurity``'s trusted CA or
    /// the system's roots.
    public var usesTLS: Bool

    /// The URL schemes: plain and TLS.
    public static let schemes = (plain: "etcd://", tls: "etcds://")

    /// The prefix when the URL names none.
    public static let defaultKeyPrefix = "/swift-plasma/"

    /// Endpoints given directly.
    public init(hosts: [String], keyPrefix: String = EtcdEndpoints.defaultKeyPrefix, usesTLS: Bool = false) {
        self.hosts = hosts
        self.keyPrefix = keyPrefix
        self.usesTLS = usesTLS
    }

    /// Parses `etcd://host:port[,host:port...][/prefix]` (or `etcds://` for TLS); a prefix gains its
    /// missing slashes.
    public init(url: String) throws(EtcdError) {
        usesTLS = url.hasPrefix(Self.schemes.tls)
        let scheme = usesTLS ? Self.schemes.tls : Self.schemes.plain
        guard url.hasPrefix(scheme) else { throw .invalidURL("'\(url)' starts with neither etcd:// nor etcds://") }
        let rest = url.dropFirst(scheme.count)
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count)
        let hosts = authority.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !hosts.isEmpty else { throw .invalidURL("'\(url)' names no host") }
        for host in hosts {
            guard let colon = host.lastIndex(of: ":"), colon != host.startIndex,
                  let port = Int(host[host.index(after: colon)...]), (1...65535).contains(port)
            else { throw .invalidURL("'\(host)' in '\(url)' is not host:port") }
        }
        self.hosts = hosts
        let trimmed = path.split(separator: "/").joined(separator: "/")
        keyPrefix = trimmed.isEmpty ? Self.defaultKeyPrefix : "/\(trimmed)/"
    }

    /// The base URL of the member at `index`.
    func baseURL(_ index: Int) -> String { "\(usesTLS ? "https" : "http")://\(hosts[index])" }
}
#endif
