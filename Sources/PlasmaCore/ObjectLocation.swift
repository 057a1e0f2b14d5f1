/// Where a found object lives in the arena: data at `offset`, metadata right after the data.
public struct ObjectLocation: Sendable, Equatable {
    /// Byte offset of the object's data from the start of the arena.
    public var offset: Int
    /// Bytes of data, starting at `offset`.
    public var dataSize: Int
    /// Bytes of metadata, starting at `offset + dataSize`.
    public var metadataSize: Int

    /// A location from its three parts.
    public init(offset: Int, dataSize: Int, metadataSize: Int) {
        self.offset = offset
        self.dataSize = dataSize
        self.metadataSize = metadataSize
    }
}
