/// One row of `list`: what the store knows about an object.
public struct ObjectInfo: Sendable, Hashable {
    /// Where an object is in its life; the raw values travel on the wire.
    public enum State: UInt8, Sendable {
        /// Created and still being written by its creator: no other client can get it yet.
        case created = 0
        /// Sealed: immutable, and gettable by every client.
        case sealed = 1
    }

    /// The object's id.
    public var id: ObjectID
    /// Bytes of data.
    public var dataSize: Int
    /// Bytes of metadata, stored after the data.
    public var metadataSize: Int
    /// References clients hold (a creator's, and one per get not yet released); a sealed object with
    /// none may be evicted.
    public var referenceCount: Int
    /// Unsealed (being written) or sealed.
    public var state: State
    /// Wall-clock creation time, nanoseconds since the Unix epoch.
    public var createdAtNanoseconds: Int64
    /// Time from create to seal in nanoseconds; -1 while unsealed.
    public var sealDurationNanoseconds: Int64
    /// True when a delete was asked for and waits for the last reference.
    public var deletePending: Bool
    /// The cluster node this copy was pulled from (docs/CLUSTER.md); nil for an object created here, or
    /// when the list wasn't asked for origins (rows of Arrow's list never carry one).
    public var origin: String? = nil

    /// A row with these values, as the wire decoder and the store build it.
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
