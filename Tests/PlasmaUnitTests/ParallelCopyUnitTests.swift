import PlasmaTestSupport
import Testing

@testable import PlasmaClient

/// `ParallelCopy` on its own (the integration suite checks the bytes through a store): how a copy is
/// cut, and that overlapping ranges still copy as `memmove` does.
@Suite struct ParallelCopyUnitTests {
    static let mebibyte = 1 << 20

    @Test(arguments: [0x10000, 0x10001, 0x10FFF])
    func chunksEndOnPagesOfTheDestinationAndCoverTheCopy(destination: Int) {
        for count in [8 * Self.mebibyte, 8 * Self.mebibyte + 1, 9 * Self.mebibyte + 12345, 1 << 30] {
            for threads in [2, 3, 4] {
                let chunks = ParallelCopy.chunks(count: count, threads: threads)
                let job = CopyJob(
                    destination: UnsafeMutableRawPointer(bitPattern: destination)!, source: UnsafeRawPointer(bitPattern: 0x1)!,
                    count: count, chunks: chunks, helpers: threads - 1)
                let starts = (0...chunks).map { job.start(ofChunk: $0) }
                #expect(starts.first == 0 && starts.last == count)
                #expect(starts == starts.sorted())
                #expect(starts.dropFirst().dropLast().allSatisfy { (destination + $0) % 4096 == 0 })
                let unit = count >= 2 * ParallelCopy.largeChunk ? ParallelCopy.largeChunk : Self.mebibyte
                #expect(chunks == min(threads * 4, count / unit), "four per thread, none under 1 MiB (256 MiB from 512 MiB)")
            }
        }
        #expect(ParallelCopy.chunks(count: 3 * Self.mebibyte, threads: 4) == 3, "no chunk under 1 MiB")
    }

    @Test func overlappingRangesCopyAsMemmoveDoes() {
        let size = 12 * Self.mebibyte
        var random = SeededRandom(seed: 3)
        var buffer = (0..<(size + Self.mebibyte)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        var expected = buffer
        expected.replaceSubrange(Self.mebibyte..<(Self.mebibyte + size), with: buffer[0..<size])
        buffer.withUnsafeMutableBytes { bytes in
            ParallelCopy(threads: 2, threshold: 0).copy(
                into: bytes.baseAddress! + Self.mebibyte, from: UnsafeRawPointer(bytes.baseAddress!), count: size)
        }
        #expect(buffer == expected)
    }

    @Test func settingsAreKeptWithinRange() {
        #expect(ParallelCopy(threads: 0).threads == 1)
        #expect(ParallelCopy(threads: -3, threshold: -1) == ParallelCopy(threads: 1, threshold: 0))
        #expect(ParallelCopy.off.threads == 1)
        #expect((1...ParallelCopy.maximumDefaultThreads).contains(ParallelCopy.defaultThreads))
        #expect(ParallelCopy.default == ParallelCopy(threads: ParallelCopy.defaultThreads, threshold: 8 << 20))
    }
}
