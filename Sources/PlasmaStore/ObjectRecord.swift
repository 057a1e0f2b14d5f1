import PlasmaCore
import PlasmaWire

/// What the engine keeps per object. Plain data: the engine's single thread owns it.
struct ObjectRecord {
    let id: ObjectID
    var state: ObjectInfo.State
    /// Arena offset of the data; metadata follows it. Meaningless (0) when `allocated` is false.
    let offset: Int
    /// False for zero-byte objects, which take no arena block.
    let allocated: Bool
    let dataSize: Int
    let metadataSize: Int
    let creator: ClientID
    /// References held by all clients together (a client may hold several).
    var referenceCount = 0
    var deletePending = false
    let createdAtWallNanoseconds: Int64
    let createdAtMonotonicNanoseconds: UInt64
    var sealDurationNanoseconds: Int64 = -1
    /// Arrow's 8-byte seal digest (XXH64 the Arrow client computed), little-endian. The store never
    /// checks it, only reports it (Arrow's list and notifications). Native seals carry none: 0, i.e. 8
    /// zero bytes, not an empty digest, because pyarrow takes an empty digest to mean "not sealed yet".
    var digest: UInt64 = 0
    /// The Arrow client whose `set_client_options` quota this object is charged to; nil for none.
    var quotaOwner: ClientID? = nil

    // Intrusive links of the eviction (LRU) list; slot indices, -1 for none.
    var olderSlot: Int32 = -1
    var newerSlot: Int32 = -1
    var isEvictable = false

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
