/// One store of a cluster, as registered in the directory under the store's lease.
public struct ClusterNode: Sendable, Equatable, Codable {
    /// The store's `--node-name`: unique in the cluster, the last component of its keys.
    public var name: String
    /// Where its transfer listener serves peers (`host:port`, the store's `--transfer-address`).
    public var transferAddress: String
    /// The store's arena size (`--memory`), in bytes.
    public var capacityBytes: Int64

    /// A node record.
    public init(name: String, transferAddress: String, capacityBytes: Int64) {
        self.name = name
        self.transferAddress = transferAddress
        self.capacityBytes = capacityBytes
    }
}
