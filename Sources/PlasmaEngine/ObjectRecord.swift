import PlasmaCore

/// What the engine keeps per object. Plain data: the engine's single thread owns it.
///
/// One record per object in the store, so its size is most of the store's per-object cost (the
/// `scale` benchmark): fields are ordered so that the small ones fill the padding after the 20-byte
/// id, which keeps the stride at 120 bytes (`ObjectTableTests` pins it).
struct ObjectRecord {
    let id: ObjectID
    /// The allocator's handle of the object's arena block, ``noBlock`` for zero-byte objects.
    let blockHandle: UInt32
    // Intrusive links of the eviction (LRU) list; slot indices, -1 for none.
    var olderSlot: Int32 = -1
    var newerSlot: Int32 = -1
    /// Arena offset of the data; metadata follows it. Meaningless (0) when there is no block.
    let offset: Int
    let dataSize: Int
    let metadataSize: Int
    let creator: ClientID
    /// References held by all clients together (a client may hold several).
    var referenceCount = 0
    let createdAtWallNanoseconds: Int64
    let createdAtMonotonicNanoseconds: UInt64
    var sealDurationNanoseconds: Int64 = -1
    /// The 8-byte digest given at seal, little-endian; 0 when none was. The engine never checks it,
    /// only reports it (list, `digest(of:)`).
    var digest: UInt64 = 0
    /// The client whose granted quota this object is charged to (StoreEngine+GrantedQuota.swift); nil for none.
    var quotaOwner: ClientID? = nil
    var state: ObjectInfo.State
    var deletePending = false
    var isEvictable = false

    static let noBlock = UInt32.max

    init(
        id: ObjectID, state: ObjectInfo.State, block: ArenaBlock?, dataSize: Int, metadataSize: Int,
        creator: ClientID, createdAtWallNanoseconds: Int64, createdAtMonotonicNanoseconds: UInt64
    ) {
        precondition(block?.handle != Self.noBlock, "the allocator never hands out handle UInt32.max")
        self.id = id
        self.state = state
        self.blockHandle = block?.handle ?? Self.noBlock
        self.offset = block?.offset ?? 0
        self.dataSize = dataSize
        self.metadataSize = metadataSize
        self.creator = creator
        self.createdAtWallNanoseconds = createdAtWallNanoseconds
        self.createdAtMonotonicNanoseconds = createdAtMonotonicNanoseconds
    }

    /// The object's arena block; nil for zero-byte objects, which take none.
    var block: ArenaBlock? {
        blockHandle == Self.noBlock ? nil : ArenaBlock(offset: offset, handle: blockHandle)
    }

    var totalSize: Int { dataSize + metadataSize }

    var location: ObjectLocation {
        ObjectLocation(offset: offset, dataSize: dataSize, metadataSize: metadataSize)
    }

    var info: ObjectInfo {
        ObjectInfo(
            id: id, dataSize: dataSize, metadataSize: metadataSize, referenceCount: referenceCount, state: state,
            createdAtNanoseconds: createdAtWallNanoseconds, sealDurationNanoseconds: sealDurationNanoseconds,
            deletePending: deletePending)
    }
}
