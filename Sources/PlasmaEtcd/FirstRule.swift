#if Cluster
import PlasmaClusterCore

/// First location wins (docs/CLUSTER.md): what a publisher does when `first/<id>` already exists.
enum FirstRule: Equatable {
    /// Same bytes as the first (or this node's own first): write the location.
    case put
    /// `first/` is this node's, written before it had the checksum: add the checksum to it.
    case completeOwnFirst
    /// This publisher has no checksum yet and can't compare: wait until it publishes again with one.
    case waitForOwnChecksum
    /// The first publisher has no checksum yet: wait until it adds one (or leaves), then compare.
    case deferUntilFirstHashed
    /// Other bytes than the first's: refused.
    case refuse

    static func decide(_ location: ClusterLocation, against first: FirstRecord, localNode: String) -> FirstRule {
        if first.node == localNode {
            if first.checksum == location.checksum { return .put }
            if first.checksum == nil { return .completeOwnFirst }
            return location.checksum == nil ? .waitForOwnChecksum : .refuse
        }
        guard let ours = location.checksum else { return .waitForOwnChecksum }
        guard let theirs = first.checksum else { return .deferUntilFirstHashed }
        return ours == theirs ? .put : .refuse
    }
}
#endif
