#if Cluster
/// Where etcd is and which part of its key space is ours, from `etcd://host:port[,host:port...][/prefix]`.
public struct EtcdEndpoints: Sendable, Equatable {
    /// `host:port` of each member, tried in order (the next on failure).
    public var hosts: [String]
    /// Prepended to every key: starts and ends with `/`.
    public var keyPrefix: String

    /// The prefix when the URL names none.
    public static let defaultKeyPrefix = "/swift-plasma/"

    /// Endpoints given directly.
    public init(hosts: [String], keyPrefix: String = EtcdEndpoints.defaultKeyPrefix) {
        self.hosts = hosts
        self.keyPrefix = keyPrefix
    }

    /// Parses `etcd://host:port[,host:port...][/prefix]`; a prefix gains its missing slashes.
    public init(url: String) throws(EtcdError) {
        let scheme = "etcd://"
        guard url.hasPrefix(scheme) else { throw .invalidURL("'\(url)' doesn't start with etcd://") }
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
}
#endif
