#if Cluster
/// What can go wrong talking to etcd.
public enum EtcdError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No endpoint answered (refused, timed out, or the connection broke); the last reason.
    case unreachable(String)
    /// etcd answered with an error: its gRPC status code and message (e.g. 5, "requested lease not found").
    case server(code: Int, message: String)
    /// The lease is gone (expired or revoked): a keepalive found no time left.
    case leaseExpired(Int64)
    /// A watch's start revision was compacted away: re-read with a range, then watch from its revision.
    case compacted(revision: Int64)
    /// An answer this client can't read.
    case malformedResponse(String)
    /// An `etcd://` URL that doesn't parse.
    case invalidURL(String)
    /// TLS files or an etcd user that can't be used (``EtcdSecurity``): a file missing or unreadable,
    /// TLS files without an `etcds://` URL.
    case invalidSecurity(String)

    /// One line for a log or an error message.
    public var description: String {
        switch self {
        case .unreachable(let reason): "etcd unreachable: \(reason)"
        case .server(let code, let message): "etcd error \(code): \(message)"
        case .leaseExpired(let id): "etcd lease \(id) expired"
        case .compacted(let revision): "etcd compacted past the watch's revision (now \(revision))"
        case .malformedResponse(let detail): "malformed etcd response: \(detail)"
        case .invalidURL(let detail): "invalid etcd URL: \(detail)"
        case .invalidSecurity(let detail): "etcd security settings: \(detail)"
        }
    }
}

/// Why a directory can't join its cluster, beyond etcd's own errors.
public enum DirectoryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Another live node is registered under this node's name.
    case nameTaken(String)

    /// A sentence for the log.
    public var description: String {
        switch self {
        case .nameTaken(let name):
            "another store is registered as node '\(name)' with another transfer address (it runs, or stopped less than its lease TTL ago): give this one another --node-name"
        }
    }
}
#endif
