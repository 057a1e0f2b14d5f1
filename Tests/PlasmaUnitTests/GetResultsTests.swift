import PlasmaCore
@testable import PlasmaEngine
import Testing

/// A get's results: one array for few ids, chunks made on their first result for many (a hostile get
/// of 65,536 missing ids holds no results at all), read back the same either way.
@Suite struct GetResultsTests {
    private func location(_ n: Int) -> ObjectLocation { ObjectLocation(offset: n * 64, dataSize: n, metadataSize: 0) }

    @Test(arguments: [0, 1, 7, GetResults.chunkLength, GetResults.chunkLength + 1, 3 * GetResults.chunkLength + 5])
    func readsBackWhatWasSetInRequestOrder(count: Int) {
        var results = GetResults(count: count)
        #expect(results.all == [ObjectLocation?](repeating: nil, count: count))
        #expect(results.foundPositions.isEmpty)
        // Seeded: every third position, and the last, found; one of them found and then cleared.
        var model = [ObjectLocation?](repeating: nil, count: count)
        var positions = Array(stride(from: 0, to: count, by: 3))
        if count > 0 { positions.append(count - 1) }
        for position in positions {
            results[position] = location(position)
            model[position] = location(position)
        }
        if let cleared = positions.dropFirst().first {
            results[cleared] = nil
            model[cleared] = nil
        }
        #expect(results.all == model)
        #expect(results.foundPositions == model.indices.filter { model[$0] != nil })
        for position in 0..<count { #expect(results[position] == model[position]) }
    }

    @Test func clearingAPositionInAChunkNeverWrittenMakesNoChunk() {
        var results = GetResults(count: 4 * GetResults.chunkLength)
        results[2 * GetResults.chunkLength + 3] = nil
        #expect(results.chunksMade == 0)
        #expect(results[2 * GetResults.chunkLength + 3] == nil)
        #expect(results.foundPositions.isEmpty)
        #expect(results.all.count == 4 * GetResults.chunkLength)
        results[2 * GetResults.chunkLength + 3] = location(1)
        #expect(results.chunksMade == 1, "only the chunk of the position found")
        #expect(results.foundPositions == [2 * GetResults.chunkLength + 3])
    }
}
