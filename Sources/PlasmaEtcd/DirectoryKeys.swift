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
        json(NodeRecord(name: node.name, transferAddress: node.transferAddress, capacityBytes: node.capacityBytes))
    }

    static func node(from bytes: [UInt8]) -> ClusterNode? {
        guard let object = try? GatewayJSON.decode(bytes), let name = object["name"] as? String,
              let address = object["transfer_address"] as? String
        else { return nil }
        return ClusterNode(name: name, transferAddress: address, capacityBytes: GatewayJSON.int64(object["capacity_bytes"]))
    }

    /// A location's value; without `checksum` when the holder published before hashing.
    static func location(_ location: ClusterLocation) -> [UInt8] {
        json(LocationRecord(
            transferAddress: location.transferAddress, dataSize: location.dataSize, metadataSize: location.metadataSize,
            checksum: location.checksum.map(hex), inline: location.inline.map { GatewayJSON.base64($0.bytes) },
            inlineMAC: location.inline.map { GatewayJSON.base64($0.mac) }))
    }

    static func location(from bytes: [UInt8], id: ObjectID, node: String) -> ClusterLocation? {
        guard let object = try? GatewayJSON.decode(bytes), let address = object["transfer_address"] as? String,
              let checksum = optionalChecksum(object["checksum"])
        else { return nil }
        let dataSize = Int(GatewayJSON.int64(object["data_size"])), metadataSize = Int(GatewayJSON.int64(object["metadata_size"]))
        // Sizes whose sum overflows are no object's: anyone who writes etcd could otherwise make every
        // store that wants the id trap on `totalSize`.
        guard dataSize >= 0, metadataSize >= 0, !dataSize.addingReportingOverflow(metadataSize).overflow else { return nil }
        // Inline bytes count only with a checksum and a MAC, at most `InlineCopy.maximumBytes`, exactly
        // the sizes; others are dropped unread (the copy is then pulled), not the location.
        var inline: InlineCopy?
        if checksum != nil, dataSize + metadataSize <= InlineCopy.maximumBytes,
           let bytes = object["inline"] as? String, bytes.utf8.count <= (InlineCopy.maximumBytes + 2) / 3 * 4,
           let mac = object["inline_mac"] as? String, mac.utf8.count <= 64,
           let data = Data(base64Encoded: bytes), data.count == dataSize + metadataSize,
           let macData = Data(base64Encoded: mac) {
            inline = InlineCopy(bytes: Array(data), mac: Array(macData))
        }
        return ClusterLocation(
            id: id, node: node, transferAddress: address, dataSize: dataSize, metadataSize: metadataSize, checksum: checksum,
            inline: inline)
    }

    /// The `first/` value: byte-for-byte the same for the same node and checksum (sorted keys), so that
    /// a transaction can compare it. Without `checksum` while the first publisher is still hashing.
    static func first(node: String, checksum: UInt64?) -> [UInt8] {
        json(FirstRecordValue(node: node, checksum: checksum.map(hex)))
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

    /// Written with sorted keys, as `JSONSerialization` wrote them before (byte for byte, which `first/`'s
    /// compare needs across versions): `JSONEncoder` takes a tenth of its time (``GatewayRequest``).
    private static func json(_ record: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array((try? encoder.encode(record)) ?? Data())
    }

    private struct NodeRecord: Encodable {
        var name: String
        var transferAddress: String
        var capacityBytes: Int64

        enum CodingKeys: String, CodingKey {
            case name
            case transferAddress = "transfer_address"
            case capacityBytes = "capacity_bytes"
        }
    }

    private struct LocationRecord: Encodable {
        var transferAddress: String
        var dataSize: Int
        var metadataSize: Int
        var checksum: String?
        var inline: String?
        var inlineMAC: String?

        enum CodingKeys: String, CodingKey {
            case checksum, inline
            case inlineMAC = "inline_mac"
            case transferAddress = "transfer_address"
            case dataSize = "data_size"
            case metadataSize = "metadata_size"
        }
    }

    private struct FirstRecordValue: Encodable {
        var node: String
        var checksum: String?
    }
}
#endif
