import CPlasma
import PlasmaEngine

/// O(1) offset allocator over the arena; its metadata lives outside the arena, so clients scribbling on
/// shared memory can't corrupt it. Owned by the store's single thread (not Sendable).
///
/// Offsets and block sizes are multiples of ``alignment`` (64 bytes). Allocation uses two-level
/// segregated fit with "good fit" rounding; when it can fail although enough bytes are free is spelled
/// out in `plasma_allocator.h`. The corresponding C functions are `plasma_allocator_*`.
public final class Allocator: ArenaAllocator {
    /// Granularity of offsets and block sizes, in bytes.
    public static let alignment = Int(PLASMA_ALLOCATOR_ALIGNMENT)
    /// The largest size an allocator manages: 2^32 - 1 units of 64 bytes (just under 256 GiB), because
    /// its nodes count offsets and sizes in 32-bit units.
    public static let maximumSize = Int(PLASMA_ALLOCATOR_MAX_SIZE)

    /// An allocated block (the engine's type: the engine holds blocks, this hands them out).
    public typealias Block = ArenaBlock
    /// A snapshot of the allocator's state.
    public typealias Statistics = ArenaAllocatorStatistics

    private let handle: OpaquePointer

    /// Manages the offsets `[0, size)`, rounded down to a multiple of ``alignment``. `size` must be at
    /// most ``maximumSize`` (the store refuses larger arenas before it gets here).
    /// Traps only if the metadata cannot be allocated.
    public init(size: Int) {
        precondition(size >= 0, "arena size must not be negative")
        precondition(size <= Self.maximumSize, "arena of \(size) bytes exceeds the allocator's limit of \(Self.maximumSize)")
        guard let handle = plasma_allocator_create(UInt64(size)) else {
            fatalError("out of memory creating the allocator's metadata")
        }
        self.handle = handle
    }

    deinit {
        plasma_allocator_destroy(handle)
    }

    /// Returns a block of at least `size` bytes (rounded up to ``alignment``; 0 allocates one unit), or
    /// nil when no free block fits. A failed allocation changes nothing.
    public func allocate(_ size: Int) -> Block? {
        precondition(size >= 0, "allocation size must not be negative")
        var block = plasma_allocator_block_t()
        guard plasma_allocator_allocate(handle, UInt64(size), &block) == 0 else { return nil }
        return Block(offset: Int(block.offset), handle: block.handle)
    }

    /// Says which part of the arena is populated: `[0, bytes)`. While that is less than the size,
    /// ``allocate(_:)`` prefers a block lying wholly inside it (looking at a bounded number of blocks);
    /// at the size (the default) it allocates exactly as without it. See `plasma_allocator.h`.
    public func setPopulated(bytes: Int) {
        plasma_allocator_set_populated(handle, UInt64(max(bytes, 0)))
    }

    /// Frees `block`. Returns false, changing nothing, when it is not an allocated block whose handle
    /// and offset belong together (a double free, a garbage handle or offset).
    @discardableResult
    public func free(_ block: Block) -> Bool {
        guard block.offset >= 0 else { return false }
        return plasma_allocator_free(handle, Self.raw(block)) == 0
    }

    /// Size in bytes of `block`, nil if it is not an allocated block (checked as ``free(_:)`` checks).
    public func blockSize(of block: Block) -> Int? {
        guard block.offset >= 0 else { return nil }
        let size = plasma_allocator_block_size(handle, Self.raw(block))
        return size == 0 ? nil : Int(size)
    }

    /// Costs O(bins + blocks in the largest bin); meant for stats requests, not for every allocation.
    public var statistics: Statistics {
        var raw = plasma_allocator_stats_t()
        plasma_allocator_stats(handle, &raw)
        return Statistics(
            size: Int(raw.size),
            freeBytes: Int(raw.free_bytes),
            largestFreeBlock: Int(raw.largest_free_block),
            allocatedBlocks: Int(raw.allocated_blocks),
            freeBlocks: Int(raw.free_blocks),
            metadataBytes: Int(raw.metadata_bytes)
        )
    }

    /// Walks all metadata and verifies every invariant; O(number of blocks). For tests.
    public func checkInvariants() -> Bool {
        plasma_allocator_check(handle) == 0
    }
}

extension Allocator {
    fileprivate static func raw(_ block: Block) -> plasma_allocator_block_t {
        plasma_allocator_block_t(offset: UInt64(block.offset), handle: block.handle)
    }
}

@available(*, unavailable, message: "Allocator is owned by the store's single thread")
extension Allocator: Sendable {}
