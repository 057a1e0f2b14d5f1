import Foundation
import Glibc
import PlasmaClient
import PlasmaCore
import Testing

extension IntegrationTests {
    /// Serving at once (issue #14): the store answers before its arena is populated, populates it in the
    /// background, and shows how far it has got in `stats`. (How fast it answers is a benchmark row,
    /// `plasma-bench startup`, not a timed test.)
    @Suite struct BackgroundPopulationTests {
        @Test func objectsWrittenWhilePopulatingKeepTheirBytesAndStatsReachTheArenaSize() throws {
            let store = try StoreProcess(memory: "256M")
            #expect(store.log.contains("prefault in the background"), "\(store.log)")
            let client = try store.connect()
            // At once, while the thread is (most likely) still populating: 32 objects of 256 KiB.
            let ids = (0..<32).map { _ in ObjectID.random() }
            for (index, id) in ids.enumerated() {
                try client.createAndSeal(id, data: pattern(size: 256 << 10, seed: index))
            }
            let statistics = try client.statistics()
            #expect(statistics.arenaPopulatedBytes >= 0 && statistics.arenaPopulatedBytes <= statistics.arenaSize)
            var populated: Int64 = -1
            #expect(try eventually(timeout: 120) {
                populated = try client.statistics().arenaPopulatedBytes
                return populated == statistics.arenaSize
            }, "\(populated) of \(statistics.arenaSize)")
            #expect(store.waitForLog("arena populated in the background: 256.0 MiB in "), "\(store.log)")
            for (index, id) in ids.enumerated() {
                let buffer = try #require(try client.get(id))
                #expect(checksum(buffer.withUnsafeBytes { Array($0) }) == checksum(pattern(size: 256 << 10, seed: index)))
            }
        }

        @Test func noPrefaultPopulatesNothingAndSaysSo() throws {
            let store = try StoreProcess(memory: "16M", arguments: ["--no-prefault"])
            #expect(store.log.contains("no prefault"), "\(store.log)")
            let client = try store.connect()
            try client.createAndSeal(ObjectID.random(), data: [1, 2, 3])
            #expect(try client.statistics().arenaPopulatedBytes == 0)
            #expect(!store.log.contains("arena populated"))
        }

        @Test func aStopWhilePopulatingEndsCleanly() throws {
            let store = try StoreProcess(memory: "1G")
            #expect(store.stop() == 0, "\(store.log)")
            #expect(store.log.contains("store stopped"), "\(store.log)")
        }
    }
}
