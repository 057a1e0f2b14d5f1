import Crypto
import PlasmaClusterCore
import PlasmaCore

/// The MAC of a small object carried in its location record (``InlineCopy``): HMAC-SHA256 under the
/// cluster token, over a label (so that no other MAC of this key can pass for one), the id, the node,
/// both sizes and the bytes. A node that can write etcd but doesn't hold the token can't forge one; it
/// can replay one a node made, which names bytes that node sealed under that id (docs/SECURITY.md).
extension ClusterToken: InlineCopyAuthenticator {
    private static let inlineLabel = Array("swift-plasma inline copy v2\0".utf8)

    /// HMAC-SHA256 of `bytes` as `location`'s object, under this token.
    public func inlineMAC(for location: ClusterLocation, bytes: some Collection<UInt8>) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: inlineMessage(location, bytes), using: key))
    }

    /// Whether `copy`'s MAC is this token's for its bytes as `location`'s object (compared in constant
    /// time); bytes of another length than the location's sizes never are.
    public func isAuthentic(_ copy: InlineCopy, of location: ClusterLocation) -> Bool {
        let (size, overflow) = location.dataSize.addingReportingOverflow(location.metadataSize)
        guard !overflow, copy.bytes.count == size else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(copy.mac, authenticating: inlineMessage(location, copy.bytes), using: key)
    }

    /// label ‖ id (20) ‖ node length (u64 LE) ‖ node ‖ data size (u64 LE) ‖ metadata size (u64 LE) ‖ bytes.
    /// Every length in full: a node name's length cut to fewer bits let a longer name carry the sizes
    /// and bytes of another message (found in review).
    private func inlineMessage(_ location: ClusterLocation, _ bytes: some Collection<UInt8>) -> [UInt8] {
        let node = Array(location.node.utf8)
        var message = Self.inlineLabel
        message.reserveCapacity(message.count + ObjectID.byteCount + 24 + node.count + bytes.count)
        message += location.id.bytes
        func append(_ value: Int) { message += (0..<8).map { UInt8(truncatingIfNeeded: UInt64(value) >> ($0 * 8)) } }
        append(node.count)
        message += node
        append(location.dataSize)
        append(location.metadataSize)
        message += bytes
        return message
    }
}
