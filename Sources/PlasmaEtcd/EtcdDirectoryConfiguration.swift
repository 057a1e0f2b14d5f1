#if Cluster
import Logging
import PlasmaClusterCore

/// What an ``EtcdDirectory`` needs: where etcd is, who this node is, how long its lease lives.
public struct EtcdDirectoryConfiguration: Sendable {
    /// etcd's members and the cluster's key prefix.
    public var endpoints: EtcdEndpoints
    /// This node, as it registers.
    public var node: ClusterNode
    /// Seconds the lease outlives this node's last keepalive (`--cluster-lease-ttl`); keepalives go every
    /// third of it.
    public var leaseTTL: Int
    /// Where the directory logs connection trouble (rate-limited) and refusals.
    public var logger: Logger

    /// A configuration; the lease lasts 5 s unless told.
    public init(endpoints: EtcdEndpoints, node: ClusterNode, leaseTTL: Int = 5, logger: Logger = Logger(label: "plasma-etcd")) {
        self.endpoints = endpoints
        self.node = node
        self.leaseTTL = max(1, leaseTTL)
        self.logger = logger
    }
}
#endif
