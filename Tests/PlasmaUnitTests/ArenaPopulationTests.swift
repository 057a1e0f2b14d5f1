import Foundation
import Glibc
import PlasmaPosix
import PlasmaTestSupport
import Testing

@testable import PlasmaStore

private let KiB = 1 << 10

/// Serving at once (issue #14): the arena is populated by a background thread while clients write, and
/// the allocator prefers memory already populated meanwhile.
@Suite struct ArenaPopulationTests {
    /// Waits for the thread's progress signals until it reports the end.
    private func waitUntilFinished(_ population: ArenaPopulation, _ progress: EventFD) -> Int {
        var signals = 0
        while !population.isFinished {
            var poller = pollfd(fd: progress.rawValue, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 60_000) > 0 {
                progress.drain()
                signals += 1
            }
        }
        return signals
    }

    @Test func populationReachesTheEndAndSignalsEachChunk() throws {
        let arena = try Arena(size: 8 << 20, options: .init(prefault: false))
        let progress = try EventFD()
        defer { progress.close() }
        let population = try ArenaPopulation(arena: arena, progress: progress, chunk: 1 << 20)
        #expect(waitUntilFinished(population, progress) >= 1)
        #expect(population.populatedBytes == arena.size)
        #expect(population.failure == nil)
        #expect(population.elapsed > .zero)
        population.stop()
        #expect(population.populatedBytes == arena.size, "the figures outlive the thread")
    }

    /// Population must change no byte: what clients wrote before and while it runs stays.
    @Test func populationKeepsEveryByteWrittenBeforeAndWhileItRuns() throws {
        let arena = try Arena(size: 64 << 20, options: .init(prefault: false))
        let bytes = UnsafeMutableRawBufferPointer(start: arena.base, count: arena.size)
        var random = SeededRandom(seed: 14)
        let before = (0..<200).map { _ in Int.random(in: 0..<arena.size, using: &random) }
        for offset in before { bytes[offset] = UInt8(truncatingIfNeeded: offset | 1) }
        let progress = try EventFD()
        defer { progress.close() }
        let population = try ArenaPopulation(arena: arena, progress: progress, chunk: 1 << 20)
        // Written from this thread while the other populates: every page from the end down, so that the
        // two meet somewhere in the middle whatever the speeds.
        var during: [Int] = []
        for page in stride(from: arena.size - PageSize.current, through: 0, by: -PageSize.current) {
            let offset = page + Int.random(in: 0..<PageSize.current, using: &random)
            bytes[offset] = UInt8(truncatingIfNeeded: offset | 1)
            during.append(offset)
        }
        _ = waitUntilFinished(population, progress)
        #expect(population.populatedBytes == arena.size)
        let lost = (before + during).filter { bytes[$0] != UInt8(truncatingIfNeeded: $0 | 1) }
        #expect(lost.isEmpty, "\(lost.count) bytes lost, first at \(lost.first ?? -1)")
    }

    @Test func stopEndsTheThreadEarly() throws {
        let arena = try Arena(size: 256 << 20, options: .init(prefault: false))
        let progress = try EventFD()
        defer { progress.close() }
        let population = try ArenaPopulation(arena: arena, progress: progress, chunk: 1 << 20)
        population.stop()
        #expect(population.isFinished)
        #expect(population.populatedBytes <= arena.size && population.populatedBytes % (1 << 20) == 0)
    }

    // MARK: the allocator's preference

    /// A populated free block P = [0, 128K) and a smaller unpopulated one U = [792K, 800K): good fit
    /// alone takes U (its bin is smaller); during population the allocator takes P.
    private func allocatorWithAPopulatedAndAnUnpopulatedHole() throws -> Allocator {
        let allocator = Allocator(size: 1024 * KiB)
        let a = try #require(allocator.allocate(128 * KiB))
        _ = try #require(allocator.allocate(64 * KiB))
        _ = try #require(allocator.allocate(600 * KiB))
        let d = try #require(allocator.allocate(8 * KiB))
        _ = try #require(allocator.allocate(224 * KiB))
        #expect(a.offset == 0 && d.offset == 792 * KiB)
        #expect(allocator.free(a) && allocator.free(d))
        return allocator
    }

    @Test func whilePopulatingAllocationTakesAPopulatedBlockOverASmallerUnpopulatedOne() throws {
        let populating = try allocatorWithAPopulatedAndAnUnpopulatedHole()
        populating.setPopulated(bytes: 256 * KiB)
        #expect(populating.allocate(4 * KiB)?.offset == 0)
        #expect(populating.checkInvariants())

        // Population done (or never asked for): exactly the good-fit choice, as before.
        let populated = try allocatorWithAPopulatedAndAnUnpopulatedHole()
        populated.setPopulated(bytes: 1024 * KiB)
        #expect(populated.allocate(4 * KiB)?.offset == 792 * KiB)
        let untold = try allocatorWithAPopulatedAndAnUnpopulatedHole()
        #expect(untold.allocate(4 * KiB)?.offset == 792 * KiB)
    }

    @Test func whenNothingPopulatedFitsAllocationStillSucceedsAbove() throws {
        let allocator = try allocatorWithAPopulatedAndAnUnpopulatedHole()
        allocator.setPopulated(bytes: 0)
        #expect(allocator.allocate(4 * KiB)?.offset == 792 * KiB, "good fit, as nothing lies below the boundary")
        allocator.setPopulated(bytes: 256 * KiB)
        #expect(allocator.allocate(200 * KiB) == nil, "the preference never makes room that isn't there")
        #expect(allocator.allocate(128 * KiB)?.offset == 0)
        #expect(allocator.checkInvariants())
    }
}
