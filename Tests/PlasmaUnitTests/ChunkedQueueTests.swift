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
}
