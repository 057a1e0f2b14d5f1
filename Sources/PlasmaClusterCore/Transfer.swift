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

/// A block of the local arena reserved for a pulled copy: exactly `location.totalSize` bytes, unsealed,
/// owned by the store until the pull reports.
public struct PullTarget: @unchecked Sendable {
    /// What is pulled, from where.
    public let location: ClusterLocation
    /// The block to fill: data, then metadata.
    public let buffer: UnsafeMutableRawBufferPointer

    /// A target.
    public init(location: ClusterLocation, buffer: UnsafeMutableRawBufferPointer) {
        self.location = location
        self.buffer = buffer
    }
}

/// Why a pull failed; the store then aborts the partial copy and tries another location, if any.
public enum PullFailure: Error, Sendable, Equatable {
    /// The peer couldn't be reached, or the connection broke before every byte arrived.
    case connection(String)
    /// The peer refused this node's proof of the cluster token, or this node refused the peer's.
    case authentication
    /// The peer doesn't hold the object (any more), or holds it with other sizes.
    case notHeld
    /// Every byte arrived but their XXH64 is not the location's checksum.
    case checksumMismatch(expected: UInt64, actual: UInt64)
}

/// The data plane between stores: pulls copies from peers' transfer listeners.
public protocol ObjectPuller: AnyObject, Sendable {
    /// Pulls `target.location` into `target.buffer` on a transfer thread, then calls `completion` there:
    /// success only when every byte arrived and their checksum matches the location's.
    func pull(_ target: PullTarget, completion: @escaping @Sendable (Result<Void, PullFailure>) -> Void)
}
