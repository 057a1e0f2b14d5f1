import PlasmaCore

/// A sealed local object held for a peer that pulls it: the store keeps a reference (the block stays
/// allocated and unchanged) until ``TransferObjectSource/unpin(_:)``.
public struct PinnedObject: @unchecked Sendable {
    /// The object.
    public let id: ObjectID
    /// The arena's memfd, for `sendfile`; owned by the store, valid while it runs.
    public let arenaDescriptor: Int32
    /// Where the object's block starts in the arena.
    public let offset: Int
    /// Bytes of data, then of metadata.
    public let dataSize: Int
    /// Bytes of metadata, after the data.
    public let metadataSize: Int
    /// The block's bytes in the store's own mapping (data, then metadata).
    public let bytes: UnsafeRawBufferPointer

    /// A pinned object.
    public init(id: ObjectID, arenaDescriptor: Int32, offset: Int, dataSize: Int, metadataSize: Int, bytes: UnsafeRawBufferPointer) {
        self.id = id
        self.arenaDescriptor = arenaDescriptor
        self.offset = offset
        self.dataSize = dataSize
        self.metadataSize = metadataSize
        self.bytes = bytes
    }
}

/// The store's side of serving pulls: called on transfer threads; the store hops to its loop thread.
public protocol TransferObjectSource: AnyObject, Sendable {
    /// Pins a sealed local object, or nil when it is absent or unsealed here. Blocks until the loop answers.
    func pin(_ id: ObjectID) -> PinnedObject?
    /// Lets a pinned object go (the pull ended, whatever its outcome).
    func unpin(_ object: PinnedObject)
}

/// A pull the store asks for: what, and how the puller gets the block for the copy.
///
/// The block is reserved only once the holder's authenticated reply header has confirmed the sizes
/// (docs/TRANSFER.md, "Sizes before the reserve"): a location's sizes come from etcd, which anyone who
/// can write it may forge, and reserving first would let a forged location make the store evict.
public struct PullRequest: Sendable {
    /// What is pulled, from where.
    public let location: ClusterLocation
    /// Reserves an unsealed block of exactly `dataSize + metadataSize` bytes for the copy and returns
    /// it (data, then metadata), or nil when the store declines (no room, created here meanwhile,
    /// stopping). Called at most once, on the transfer thread, only with the location's sizes and only
    /// after the holder's authenticated reply said it sends them; blocks until the store answers. Once
    /// it returned a block, the completion's failure means that block is the store's to abort.
    public let reserve: @Sendable (_ dataSize: Int, _ metadataSize: Int) -> UnsafeMutableRawBufferPointer?

    /// A request.
    public init(location: ClusterLocation, reserve: @escaping @Sendable (_ dataSize: Int, _ metadataSize: Int) -> UnsafeMutableRawBufferPointer?) {
        self.location = location
        self.reserve = reserve
    }
}

/// A pull that succeeded: every byte is in the reserved block.
public struct PulledCopy: Sendable, Equatable {
    /// XXH64 (seed 0) of the copy's data then metadata, computed as the bytes arrived; it matched the
    /// location's (``ClusterLocation/accepts(checksum:)``).
    public let checksum: UInt64

    /// A pulled copy.
    public init(checksum: UInt64) { self.checksum = checksum }
}

/// Why a pull failed; the store then aborts the partial copy (if it reserved one) and tries another
/// location, if any.
public enum PullFailure: Error, Sendable, Equatable {
    /// The peer couldn't be reached, or the connection broke before every byte arrived, or the pull
    /// ran past its deadline.
    case connection(String)
    /// The peer refused this node's proof of the cluster token, or this node refused the peer's, or a
    /// session MAC (request, reply header, trailer) was wrong.
    case authentication
    /// The peer doesn't hold the object (any more), or holds it with other sizes than the location's.
    case notHeld
    /// The store reserved no block for the copy (``PullRequest/reserve``): nothing was received.
    case declined
    /// Every byte arrived but their checksum is not the one expected: the sender's authenticated
    /// trailer's, or the location's.
    case checksumMismatch(expected: UInt64, actual: UInt64)
}

extension ClusterLocation {
    /// Whether a copy whose XXH64 (seed 0) is `checksum` is this location's object: the one place a
    /// pulled copy is compared with the location's checksum. A location published before its holder
    /// hashed carries none and accepts any copy: the holder's MACed trailer vouched for the bytes.
    public func accepts(checksum: UInt64) -> Bool { self.checksum.map { $0 == checksum } ?? true }
}

/// The data plane between stores: pulls copies from peers' transfer listeners.
public protocol ObjectPuller: AnyObject, Sendable {
    /// Pulls `request.location` on a transfer thread: connects, asks, and only after the holder's
    /// authenticated reply header reserves the block through `request.reserve`, receives into it, then
    /// calls `completion` there: success only when every byte arrived intact and its checksum is the
    /// location's (``ClusterLocation/accepts(checksum:)``).
    func pull(_ request: PullRequest, completion: @escaping @Sendable (Result<PulledCopy, PullFailure>) -> Void)
}
