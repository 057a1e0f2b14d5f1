/// One row of `list`: what the store knows about an object.
public struct ObjectInfo: Sendable, Hashable {
    public enum State: UInt8, Sendable {
        case created = 0
        case sealed = 1
    }

    public var id: ObjectID
    public var dataSize: Int
    public var metadataSize: Int
    public var referenceCount: Int
    public var state: State
    /// Wall-clock creation time, nanoseconds since the Unix epoch.
    public var createdAtNanoseconds: Int64
    /// Time from create to seal in nanoseconds; -1 while unsealed.
    public var sealDurationNanoseconds: Int64
    /// True when a delete was asked for and waits for the last reference.
    public var deletePending: Bool

    public init(
        id: ObjectID, dataSize: Int, metadataSize: Int, referenceCount: Int, state: State,
        createdAtNanoseconds: Int64, sealDurationNanoseconds: Int64, deletePending: Bool
    ) {
        self.id = id
        self.dataSize = dataSize
        self.metadataSize = metadataSize
        self.referenceCount = referenceCount
        self.state = state
        self.createdAtNanoseconds = createdAtNanoseconds
        self.sealDurationNanoseconds = sealDurationNanoseconds
        self.deletePending = deletePending
    }
}
