@testable import PlasmaStore
import Testing

/// The chunked FIFO behind the Arrow subscribers' notification queues.
@Suite struct ChunkedQueueTests {
    @Test func elementsComeOutInOrderAcrossChunkBoundariesWhileBothEndsMove() {
        var queue = ChunkedQueue<Int>(chunkCapacity: 4)
        var expected = 0, next = 0
        // Appends and takes interleaved so that the head crosses chunk ends at every offset.
        for round in 0..<50 {
            for _ in 0..<(round % 7 + 1) {
                queue.append(next)
                next += 1
            }
            for _ in 0..<(round % 5 + 1) {
                guard let element = queue.popFirst() else { break }
                #expect(element == expected)
                expected += 1
            }
            #expect(queue.count == next - expected)
        }
        while let element = queue.popFirst() {
            #expect(element == expected)
            expected += 1
        }
        #expect(expected == next && queue.isEmpty)
    }

    @Test func chunksAreTakenAndGivenBackWhole() {
        var queue = ChunkedQueue<Int>(chunkCapacity: 4)
        #expect(queue.chunkCount == 0)
        queue.append(contentsOf: 0..<9)
        #expect(queue.chunkCount == 3, "three chunks for nine elements")
        for _ in 0..<4 { _ = queue.popFirst() }
        #expect(queue.chunkCount == 2, "a chunk read to its end goes")
        for _ in 0..<5 { _ = queue.popFirst() }
        #expect(queue.isEmpty && queue.chunkCount == 0, "an empty queue holds no chunk")
        queue.append(9)
        #expect(queue.popFirst() == 9 && queue.chunkCount == 0)
        #expect(queue.popFirst() == nil)
    }

    /// What the Arrow event log uses: reading by position, dropping only whole chunks, emptying.
    @Test func elementsAreReadByPositionAndOnlyWholeChunksAreDropped() {
        var queue = ChunkedQueue<Int>(chunkCapacity: 4)
        queue.append(contentsOf: 0..<10)
        _ = queue.popFirst()  // 1...9 wait, the first chunk started one in
        #expect((0..<9).map { queue[$0] } == Array(1...9))
        #expect(queue.dropWholeChunks(within: 2) == 0, "the first chunk's 3 waiting are not all within 2")
        #expect(queue.dropWholeChunks(within: 8) == 7, "two chunks (3 + 4 waiting); the last is never full here")
        #expect(queue.count == 2 && queue.chunkCount == 1 && queue[0] == 8 && queue[1] == 9)
        queue.removeAll()
        #expect(queue.isEmpty && queue.chunkCount == 0 && queue.popFirst() == nil)
        queue.append(10)
        #expect(queue[0] == 10 && queue.count == 1)
    }
}
