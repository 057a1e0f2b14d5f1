import PlasmaCore

/// A sealed copy of an object that a node publishes for peers to pull.
public struct ClusterLocation: Sendable, Equatable {
    /// The object.
    public var id: ObjectID
    /// The node that holds the copy (its `--node-name`).
    public var node: String
    /// Where that node's transfer listener serves (`host:port`).
    public var transferAddress: String
    /// Bytes of data, then of metadata, as sealed.
    public var dataSize: Int
    /// Bytes of metadata, after the data.
    public var metadataSize: Int
    /// XXH64 (seed 0) of the data followed by the metadata: a pulled copy is sealed only when its bytes
    /// hash to this, and a second publisher whose bytes differ is refused (first location wins). Nil: the
    /// holder published before it finished hashing (an origin publishes at once and adds the checksum
    /// when its hasher is done; docs/CLUSTER.md, "First location wins").
    public var checksum: UInt64?
    /// A small object's bytes and their MAC, when its holder put them in the location: the wanting node
    /// seals its copy from them without pulling (``InlineCopy``). Only with a checksum.
    public var inline: InlineCopy?

    /// A location.
    public init(
        id: ObjectID, node: String, transferAddress: String, dataSize: Int, metadataSize: Int, checksum: UInt64?,
        inline: InlineCopy? = nil
    ) {
        self.id = id
        self.node = node
        self.transferAddress = transferAddress
        self.dataSize = dataSize
        self.metadataSize = metadataSize
        self.checksum = checksum
        self.inline = inline
    }

    /// Data and metadata together: the size of the block a pulled copy needs.
    public var totalSize: Int { dataSize + metadataSize }
}
