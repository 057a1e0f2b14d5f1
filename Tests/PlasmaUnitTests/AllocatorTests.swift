import Foundation
import PlasmaTestSupport
import Testing

@testable import PlasmaEngine
@testable import PlasmaStore


private let KiB = 1 << 10
private let MiB = 1 << 20
private let GiB = 1 << 30

@Suite struct AllocatorTests {
    @Test(arguments: [64, 128, 192, 640, 64 * 1001, 3 * MiB + 64, GiB, GiB + 64, 5 * GiB - 64, Allocator.maximumSize])
    func exactCapacityAllocationInEmptyAllocatorSucceeds(size: Int) throws {
        // The allocator never touches the arena, so a 256 GiB one costs only its metadata.
        let allocator = Allocator(size: size)
        let block = try #require(allocator.allocate(size))
        #expect(block.offset == 0)
        #expect(allocator.blockSize(of: block) == size)
        #expect(allocator.statistics.freeBytes == 0)
        #expect(allocator.checkInvariants())
    }

    @Test func sizeIsRoundedDownToTheAlignment() {
        let allocator = Allocator(size: 1000)
        #expect(allocator.statistics.size == 960)
        #expect(allocator.allocate(961) == nil)
        #expect(allocator.allocate(960)?.offset == 0)
        #expect(Allocator(size: 63).allocate(0) == nil)
    }

    @Test func allocationBeyondCapacityFails() {
        let allocator = Allocator(size: MiB)
        #expect(allocator.allocate(MiB + 1) == nil)
        #expect(allocator.allocate(Int.max) == nil)
        let half = allocator.allocate(MiB / 2)
        #expect(half != nil)
        #expect(allocator.allocate(MiB / 2 + 64) == nil)
        // A failed allocation changes nothing.
        #expect(allocator.statistics.allocatedBlocks == 1)
        #expect(allocator.statistics.freeBytes == MiB / 2)
        #expect(allocator.checkInvariants())
    }

    @Test func zeroSizeAllocationTakesOneAlignedUnit() throws {
        let allocator = Allocator(size: 4 * KiB)
        let first = try #require(allocator.allocate(0))
        let second = try #require(allocator.allocate(0))
        #expect(first != second)
        #expect(allocator.blockSize(of: first) == Allocator.alignment)
        #expect(allocator.statistics.freeBytes == 4 * KiB - 2 * Allocator.alignment)
        #expect(allocator.free(first))
        #expect(allocator.free(second))
        #expect(allocator.checkInvariants())
    }

    @Test func offsetsAreAlignedAndBlocksNeverOverlapOrExceedTheSize() {
        let size = 8 * MiB
        let allocator = Allocator(size: size)
        var rng = SeededRandom(seed: 7)
        var blocks: [(block: Allocator.Block, size: Int)] = []
        for _ in 0..<2000 {
            let request = Int.random(in: 0...20_000, using: &rng)
            guard let block = allocator.allocate(request) else { continue }
            let blockSize = allocator.blockSize(of: block) ?? 0
            #expect(block.offset % Allocator.alignment == 0)
            #expect(blockSize % Allocator.alignment == 0)
            #expect(blockSize >= max(request, 1) && blockSize < max(request, 1) + Allocator.alignment)
            blocks.append((block, blockSize))
            if Bool.random(using: &rng), let victim = blocks.indices.randomElement(using: &rng) {
                #expect(allocator.free(blocks.remove(at: victim).block))
            }
        }
        blocks.sort { $0.block.offset < $1.block.offset }
        for (left, right) in zip(blocks, blocks.dropFirst()) {
            #expect(left.block.offset + left.size <= right.block.offset)
        }
        #expect((blocks.last.map { $0.block.offset + $0.size } ?? 0) <= size)
        #expect(allocator.checkInvariants())
    }

    @Test func freeingEverythingInRandomOrderCoalescesIntoOneWholeBlock() {
        let size = 64 * MiB + 192
        let allocator = Allocator(size: size)
        var rng = SeededRandom(seed: 42)
        var offsets: [Allocator.Block] = []
        while let block = allocator.allocate(Int.random(in: 1...64 * KiB, using: &rng)) {
            offsets.append(block)
        }
        // Fill the tail exactly, so the arena is completely allocated.
        if let rest = allocator.allocate(allocator.statistics.largestFreeBlock) { offsets.append(rest) }
        #expect(allocator.statistics.freeBytes == 0)
        offsets.shuffle(using: &rng)
        for (index, block) in offsets.enumerated() {
            #expect(allocator.free(block))
            if index % 100 == 0 { #expect(allocator.checkInvariants()) }
        }
        let stats = allocator.statistics
        #expect(stats.largestFreeBlock == size)
        #expect(stats.freeBytes == size)
        #expect(stats.freeBlocks == 1)
        #expect(stats.allocatedBlocks == 0)
        #expect(stats.fragmentation == 0)
        #expect(allocator.checkInvariants())
    }

    @Test func doubleFreeAndGarbageBlocksAreRejectedWithoutDamage() throws {
        let allocator = Allocator(size: MiB)
        let a = try #require(allocator.allocate(1000))
        let b = try #require(allocator.allocate(5000))
        let tail = Allocator.Block(offset: b.offset + 5056, handle: b.handle &+ 1)
        let before = allocator.statistics
        func garbage(_ offset: Int, _ handle: UInt32) -> Allocator.Block { Allocator.Block(offset: offset, handle: handle) }
        #expect(!allocator.free(garbage(a.offset + 64, a.handle)))  // inside a block
        #expect(!allocator.free(garbage(b.offset + 1, b.handle)))   // unaligned
        #expect(!allocator.free(garbage(b.offset, a.handle)))       // another block's handle
        #expect(!allocator.free(garbage(a.offset, b.handle)))
        for handle in [0, 1, 2, 3, 1000, UInt32.max - 1, UInt32.max] as [UInt32] {
            #expect(!allocator.free(garbage(b.offset + 5056, handle)))  // start of the free tail
        }
        #expect(!allocator.free(tail))
        #expect(!allocator.free(garbage(MiB, b.handle)))             // one past the end
        #expect(!allocator.free(garbage(-64, a.handle)))
        #expect(!allocator.free(garbage(Int.max, a.handle)))
        #expect(!allocator.free(garbage(a.offset, UInt32.max)))
        #expect(allocator.blockSize(of: garbage(a.offset + 64, a.handle)) == nil)
        #expect(allocator.statistics == before)
        #expect(allocator.checkInvariants())

        #expect(allocator.free(a))
        #expect(!allocator.free(a))                                  // double free
        #expect(allocator.blockSize(of: a) == nil)
        #expect(allocator.blockSize(of: b) == 5056)
        #expect(allocator.checkInvariants())
        #expect(allocator.free(b))
        #expect(!allocator.free(b))
        #expect(allocator.statistics.largestFreeBlock == MiB)
        #expect(allocator.checkInvariants())
    }

    /// 256 MiB arena held near 90% full by 200k operations with log-uniform sizes 64 B ... 1 MiB:
    /// allocate while under 90% (a failure is counted and the next operation tries again with a new size),
    /// otherwise free a random live block.
    ///
    /// Measured with seed 2024: fragmentation mean 0.982, max 0.992; 8339 of 107033 allocations failed
    /// (7.8%). With 8 second-level bins instead of 16 the same test measured mean 0.987 and 11.4% failed.
    /// 1 - largest/free saturates near 1 under uniformly random frees for any allocator: the ~26 MiB that
    /// are free sit in thousands of holes. (A C simulation of this workload, seeds 1-3, measured a
    /// brute-force best fit at mean 0.973 / 3.7-3.9% failed and first fit at 0.986 / 10.2-10.5%.) So the mean bound
    /// (< 0.99) is loose, and the failure rate (< 10%; measured 7.8% here, 8.2-8.4% in the simulation, seeds 1-2)
    /// is the sharper guard: it catches coarser binning or a lost merge.
    @Test func randomChurnAtNinetyPercentFillKeepsInvariantsAndBoundsFragmentation() {
        let size = 256 * MiB
        let target = size / 10 * 9
        let allocator = Allocator(size: size)
        var rng = SeededRandom(seed: 2024)
        var live: [(block: Allocator.Block, size: Int)] = []
        var allocatedBytes = 0
        var failedAllocations = 0
        var attemptedAllocations = 0
        var fragmentationSamples: [Double] = []
        let logMin = log(64.0), logMax = log(Double(MiB))

        for operation in 1...200_000 {
            if allocatedBytes < target {
                let request = Int(exp(Double.random(in: logMin...logMax, using: &rng)))
                attemptedAllocations += 1
                if let block = allocator.allocate(request) {
                    let blockSize = allocator.blockSize(of: block)!
                    live.append((block, blockSize))
                    allocatedBytes += blockSize
                } else {
                    failedAllocations += 1
                }
            } else {
                let victim = live.swapRemoveRandom(using: &rng)
                #expect(allocator.free(victim.block))
                allocatedBytes -= victim.size
            }
            if operation % 2000 == 0 {
                #expect(allocator.checkInvariants())
                // Sample once the arena has filled up (the first ~2.5k operations fill it; mean size ~100 KiB).
                if operation >= 20_000 { fragmentationSamples.append(allocator.statistics.fragmentation) }
            }
        }
        let mean = fragmentationSamples.reduce(0, +) / Double(fragmentationSamples.count)
        let worst = fragmentationSamples.max() ?? 0
        print(
            "allocator churn at 90% fill: fragmentation mean \(String(format: "%.3f", mean)), "
                + "max \(String(format: "%.3f", worst)), failed allocations \(failedAllocations) "
                + "of \(attemptedAllocations), metadata \(allocator.statistics.metadataBytes) bytes"
        )
        #expect(allocator.statistics.freeBytes == size - allocatedBytes)
        #expect(mean < 0.99)
        #expect(Double(failedAllocations) < 0.10 * Double(attemptedAllocations))
        #expect(allocator.checkInvariants())
    }

    @Test func aMillionSmallAllocationsGrowTheNodeArrayAndFreeBackToOneBlock() {
        let count = 1_000_000
        let allocator = Allocator(size: count * Allocator.alignment)
        let none = Allocator.Block(offset: -1, handle: .max)
        var offsets = [Allocator.Block](repeating: none, count: count)
        for index in 0..<count {
            offsets[index] = allocator.allocate(Allocator.alignment) ?? none
        }
        #expect(!offsets.contains(none))
        #expect(allocator.allocate(0) == nil)
        #expect(allocator.statistics.allocatedBlocks == count)
        #expect(allocator.checkInvariants())
        // Every other block first: 500k isolated free blocks, then each free merges on both sides.
        for index in stride(from: 0, to: count, by: 2) { allocator.free(offsets[index]) }
        #expect(allocator.statistics.freeBlocks == count / 2)
        #expect(allocator.checkInvariants())
        for index in stride(from: 1, to: count, by: 2) { allocator.free(offsets[index]) }
        let stats = allocator.statistics
        // 24-byte nodes plus a state byte each, no offset hash: the per-block cost the `scale` benchmark sees.
        #expect(stats.metadataBytes <= 26 * (1 << 20) + 4096)
        #expect(stats.freeBlocks == 1)
        #expect(stats.largestFreeBlock == count * Allocator.alignment)
        #expect(allocator.checkInvariants())
    }

    @Test func aStaleHandleOfAMergedBlockIsRejected() throws {
        let allocator = Allocator(size: MiB)
        let a = try #require(allocator.allocate(64))
        let b = try #require(allocator.allocate(64))
        let c = try #require(allocator.allocate(64))
        #expect(allocator.free(b))
        #expect(allocator.free(c))  // merges with b's free block and the tail: c's node goes back to the pool
        #expect(!allocator.free(b))
        #expect(!allocator.free(c))
        let d = try #require(allocator.allocate(128))  // may reuse c's node, at b's offset
        #expect(!allocator.free(c))
        #expect(allocator.blockSize(of: d) == 128)
        #expect(allocator.free(a) && allocator.free(d))
        #expect(allocator.statistics.freeBlocks == 1)
        #expect(allocator.checkInvariants())
    }

    @Test func anArenaBeyondTheUnitLimitIsRefused() async {
        await #expect(processExitsWith: .failure) {
            _ = Allocator(size: Allocator.maximumSize + Allocator.alignment)
        }
    }
}

extension Array {
    fileprivate mutating func swapRemoveRandom<G: RandomNumberGenerator>(using rng: inout G) -> Element {
        let index = Int.random(in: indices, using: &rng)
        swapAt(index, count - 1)
        return removeLast()
    }
}
