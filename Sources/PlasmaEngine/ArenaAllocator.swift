/// A block of the arena an allocator handed out: where it starts, and the handle that lets the
/// allocator free it without a lookup. Keep both; an allocator checks that they still belong together.
public struct ArenaBlock: Sendable, Equatable {
    /// Byte offset of the block from the start of the arena.
    public let offset: Int
    /// The allocator's name for the block; never `UInt32.max`.
    public let handle: UInt32

    /// A block from its two parts.
    public init(offset: Int, handle: UInt32) {
        self.offset = offset
        self.handle = handle
    }
}

/// A snapshot of an allocator's state. All sizes are in bytes.
public struct ArenaAllocatorStatistics: Sendable, Equatable {
    /// Bytes managed.
    public var size: Int
    /// Bytes not allocated.
    public var freeBytes: Int
    /// The largest block that one allocation could get now.
    public var largestFreeBlock: Int
    /// Blocks handed out and not yet freed.
    public var allocatedBlocks: Int
    /// Free blocks (more of them, smaller: more fragmentation).
    public var freeBlocks: Int
    /// Bytes of metadata the allocator holds outside the arena.
    public var metadataBytes: Int

    /// A snapshot from its parts.
    public init(size: Int, freeBytes: Int, largestFreeBlock: Int, allocatedBlocks: Int, freeBlocks: Int, metadataBytes: Int) {
        self.size = size
        self.freeBytes = freeBytes
        self.largestFreeBlock = largestFreeBlock
        self.allocatedBlocks = allocatedBlocks
        self.freeBlocks = freeBlocks
        self.metadataBytes = metadataBytes
    }

    /// 1 - largestFreeBlock / freeBytes: 0 when all free space is one block (or nothing is free),
    /// close to 1 when free space is scattered into many small blocks.
    public var fragmentation: Double {
        freeBytes == 0 ? 0 : 1 - Double(largestFreeBlock) / Double(freeBytes)
    }
}

/// Hands out blocks of the arena. The engine decides *whether* an object fits (capacity, eviction);
/// the allocator only finds *where*. Injected so that the engine holds no C code: the server passes its
/// C allocator (metadata outside the arena, so clients scribbling on shared memory can't corrupt it),
/// tests may pass a simple one.
public protocol ArenaAllocator: AnyObject {
    /// A block of at least `size` bytes (0 still gets one), or nil when no free block fits; a failed
    /// allocation changes nothing.
    func allocate(_ size: Int) -> ArenaBlock?
    /// Gives `block` back; false, changing nothing, when it isn't an allocated block.
    @discardableResult
    func free(_ block: ArenaBlock) -> Bool
    /// Meant for stats requests, not for every allocation.
    var statistics: ArenaAllocatorStatistics { get }
    /// Verifies the allocator's own books; for tests.
    func checkInvariants() -> Bool
}
