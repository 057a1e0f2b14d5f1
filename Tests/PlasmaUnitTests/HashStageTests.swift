import PlasmaPosix
import PlasmaTestSupport
@testable import PlasmaTransfer
import Testing

/// The puller's hashing stage (HashStage.swift): hashes on its own thread up to where the bytes have
/// arrived, gives both hashes at the end, and can be abandoned mid-way and reused.
@Suite struct HashStageTests {
    @Test func theStageHashesWhatArrivedAndIsReusableAfterAnAbandon() throws {
        let size = 5 << 20 + 13
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        defer { bytes.deallocate() }
        TransferTests.fill(bytes, seed: 61)
        let all = UnsafeRawBufferPointer(bytes)
        let stage = try HashStage()
        defer { stage.stop() }

        stage.begin(all, seeds: (77, 0))
        stage.arrived(upTo: 3 << 20)
        stage.abandon()  // a failed pull: nothing is read any more

        var random = SeededRandom(seed: 62)
        for seed in [UInt64(1), 0xDEAD_BEEF] {
            stage.begin(all, seeds: (seed, 0))
            var arrived = 0
            while arrived < size {
                arrived = min(size, arrived + Int(random.next() % (600 << 10)))
                stage.arrived(upTo: arrived)
            }
            let (first, second) = stage.finish()
            #expect(first == XXH64.hash(all, seed: seed))
            #expect(second == XXH64.hash(all))
        }
    }
}
