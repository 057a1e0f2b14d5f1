import PlasmaCore

/// A small object's bytes carried in its location record, so that a wanting node seals its copy from
/// the location itself, without a pull: the wake of a cross-node get then costs etcd's round trips and
/// no transfer connection (docs/CLUSTER.md, "Small objects travel with their location"). Ray inlines
/// its small objects in the owner's reply for the same reason.
///
/// The bytes come from etcd, which anyone who can write it may forge: they carry a MAC under the
/// cluster token, and a copy is made only when it verifies and the bytes hash to the location's checksum.
public struct InlineCopy: Sendable, Equatable {
    /// The most bytes a location may carry (`--cluster-inline-max` at most): larger ones are dropped
    /// unread from a location record.
    public static let maximumBytes = 65536

    /// The object's data, then its metadata.
    public var bytes: [UInt8]
    /// HMAC-SHA256 under the cluster token of the id, the node, the sizes and ``bytes``
    /// (``InlineCopyAuthenticator``).
    public var mac: [UInt8]

    /// An inline copy.
    public init(bytes: [UInt8], mac: [UInt8]) {
        self.bytes = bytes
        self.mac = mac
    }
}

/// Signs and checks ``InlineCopy``s: the cluster token's holder (`ClusterToken` in PlasmaTransfer).
public protocol InlineCopyAuthenticator: Sendable {
    /// The MAC of `bytes` as `location`'s object (its id, node and sizes).
    func inlineMAC(for location: ClusterLocation, bytes: some Collection<UInt8>) -> [UInt8]
    /// Whether `copy` is `location`'s object as its node signed it: the MAC verifies, in constant time.
    func isAuthentic(_ copy: InlineCopy, of location: ClusterLocation) -> Bool
}
