#if Cluster
import Logging
import PlasmaClusterCore

/// What an ``EtcdDirectory`` needs: where etcd is, who this node is, how long its lease lives.
public struct EtcdDirectoryConfiguration: Sendable {
    /// etcd's members and the cluster's key prefix.
    public var endpoints: EtcdEndpoints
    /// TLS files and the etcd user, where etcd asks for them.
    public var security: EtcdSecurity
    /// This node, as it registers.
    public var node: ClusterNode
    /// Seconds the lease outlives this node's last keepalive (`--cluster-lease-ttl`); keepalives go every
    /// third of it.
    public var leaseTTL: Int
    /// Where the directory logs connection trouble (rate-limited) and refusals.
    public var logger: Logger
    /// Keys per answer when the directory reads a prefix whole (at start, after a reconnection or a
    /// compaction): one answer stays ~100 KB instead of holding every want in the cluster.
    public var rangePageSize = 512
    /// The most wants of one other node this directory keeps and reports; the rest are ignored, counted
    /// and logged (docs/CLUSTER.md, "Scaling limits"): one node can't grow every other's memory without
    /// bound.
    public var maximumWantsPerNode = 4096

    /// A configuration; the lease lasts 5 s unless told.
    public init(
        endpoints: EtcdEndpoints, security: EtcdSecurity = .none, node: ClusterNode, leaseTTL: Int = 5,
        logger: Logger = Logger(label: "plasma-etcd")
    ) {
        self.endpoints = endpoints
        self.security = security
        self.node = node
        self.leaseTTL = max(1, leaseTTL)
        self.logger = logger
    }
}
#endif
