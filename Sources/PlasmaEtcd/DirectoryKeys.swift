#if Cluster
import Foundation
import PlasmaClusterCore
import PlasmaCore

/// The directory's key schema under the cluster's prefix (docs/CLUSTER.md, "Keys in etcd"):
///
/// - `nodes/<name>`: the node's record (JSON), under its lease;
/// - `wants/<idhex>/<node>`: empty, under the wanting node's lease;
/// - `locations/<idhex>/<node>`: a location (JSON), under the holder's lease;
/// - `first/<idhex>`: which node published the id first and its checksum (JSON), under that node's lease.
struct DirectoryKeys: Sendable {
    let prefix: String

    var nodes: String { prefix + "nodes/" }
    var wants: String { prefix + "wants/" }
    var locations: String { prefix + "locations/" }

    func node(_ name: String) -> String { nodes + name }
    func want(_ id: ObjectID, node: String) -> String { wants + id.hex + "/" + node }
    func locations(of id: ObjectID) -> String { locations + id.hex + "/" }
    func location(_ id: ObjectID, node: String) -> String { locations(of: id) + node }
    func first(_ id: ObjectID) -> String { prefix + "first/" + id.hex }

    /// The id and node of a `wants/` or `locations/` key, or nil for a key of another shape.
    func parse(_ key: String, under folder: String) -> (id: ObjectID, node: String)? {
        guard key.hasPrefix(folder) else { return nil }
        let rest = key.dropFirst(folder.count)
        guard let slash = rest.firstIndex(of: "/"), let id = ObjectID(hex: rest[..<slash]) else { return nil }
        let node = String(rest[rest.index(after: slash)...])
        return node.isEmpty || node.contains("/") ? nil : (id, node)
    }
}

/// Who published an id first, and its checksum (nil while that node is still hashing).
struct FirstRecord: Equatable, Sendable {
    var node: String
    var checksum: UInt64?
}

/// The JSON values of the directory's keys. Checksums are 16 hex digits: a JSON number can't carry 64 bits
/// exactly in every reader.
enum DirectoryRecords {
    static func node(_ node: ClusterNode) -> [UInt8] {
        json(["name": node.name, "transfer_address": node.transferAddress, "capacity_bytes": node.capacityBytes])
    }

    static func node(from bytes: [UInt8]) -> ClusterNode? {
        guard let object = try? GatewayJSON.decode(bytes), let name = object["name"] as? String,
              let address = object["transfer_address"] as? String
        else { return nil }
        return ClusterNode(name: name, transferAddress: address, capacityBytes: GatewayJSON.int64(object["capacity_bytes"]))
    }

    /// A location's value; without `checksum` when the holder published before hashing.
    static func location(_ location: ClusterLocation) -> [UInt8] {
        var object: [String: Any] = [
            "transfer_address": location.transferAddress, "data_size": location.dataSize,
            "metadata_size": location.metadataSize,
        ]
        if let checksum = location.checksum { object["checksum"] = hex(checksum) }
        return json(object)
    }

    static func location(from bytes: [UInt8], id: ObjectID, node: String) -> ClusterLocation? {
        guard let object = try? GatewayJSON.decode(bytes), let address = object["transfer_address"] as? String,
              let checksum = optionalChecksum(object["checksum"])
        else { return nil }
        let dataSize = Int(GatewayJSON.int64(object["data_size"])), metadataSize = Int(GatewayJSON.int64(object["metadata_size"]))
        guard dataSize >= 0, metadataSize >= 0 else { return nil }
        return ClusterLocation(
            id: id, node: node, transferAddress: address, dataSize: dataSize, metadataSize: metadataSize, checksum: checksum)
    }

    /// The `first/` value: byte-for-byte the same for the same node and checksum (sorted keys), so that
    /// a transaction can compare it. Without `checksum` while the first publisher is still hashing.
    static func first(node: String, checksum: UInt64?) -> [UInt8] {
        var object: [String: Any] = ["node": node]
        if let checksum { object["checksum"] = hex(checksum) }
        return json(object)
    }

    static func first(from bytes: [UInt8]) -> FirstRecord? {
        guard let object = try? GatewayJSON.decode(bytes), let node = object["node"] as? String,
              let checksum = optionalChecksum(object["checksum"])
        else { return nil }
        return FirstRecord(node: node, checksum: checksum)
    }

    /// `.some(nil)` for an absent checksum, `.some(value)` for 16 hex digits, nil (malformed) otherwise.
    private static func optionalChecksum(_ value: Any?) -> UInt64?? {
        guard let value else { return .some(nil) }
        guard let text = value as? String, let checksum = UInt64(text, radix: 16) else { return nil }
        return .some(checksum)
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    private static func json(_ object: [String: Any]) -> [UInt8] {
        Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
    }
}
#endif
