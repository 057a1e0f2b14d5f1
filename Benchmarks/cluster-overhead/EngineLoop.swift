import Glibc
import PlasmaCore
import PlasmaEngine

/// The engine path alone, with and without demand tracking (`enableCluster`): two engines side by
/// side, the same small-op loop on each in alternating batches, so that both see the same machine load.
/// No sockets, so what a socket round trip would hide of the cluster's per-op cost shows here.
enum EngineLoop {
    /// Fixed 64-byte blocks from a stack: the same cheap allocator for both engines.
    final class BlockAllocator: ArenaAllocator {
        private var free: [UInt32]
        private let blocks: Int
        init(blocks: Int) {
            self.blocks = blocks
            free = (0..<UInt32(blocks)).reversed().map { $0 }
        }
        func allocate(_ size: Int) -> ArenaBlock? {
            guard size <= 64, let handle = free.popLast() else { return nil }
            return ArenaBlock(offset: Int(handle) * 64, handle: handle)
        }
        func free(_ block: ArenaBlock) -> Bool {
            free.append(block.handle)
            return true
        }
        var statistics: ArenaAllocatorStatistics {
            ArenaAllocatorStatistics(size: blocks * 64, freeBytes: free.count * 64, largestFreeBlock: free.isEmpty ? 0 : 64,
                                     allocatedBlocks: blocks - free.count, freeBlocks: free.count, metadataBytes: 0)
        }
        func checkInvariants() -> Bool { true }
    }

    final class Clock: EngineClock {
        func monotonicNanoseconds() -> UInt64 { now() }
        func wallNanoseconds() -> Int64 { Int64(now()) }
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// One engine and its client, with 1000 objects to get.
    final class Subject {
        let engine: StoreEngine
        let client: ClientID
        let memory: UnsafeMutableRawBufferPointer
        var ticket: UInt64 = 1

        init(clustered: Bool) {
            let blocks = 1 << 16
            memory = .allocate(byteCount: blocks * 64, alignment: 64)
            engine = StoreEngine(configuration: .init(capacity: blocks * 64), memory: memory,
                                 allocator: BlockAllocator(blocks: blocks), clock: Clock())
            if clustered { engine.enableCluster() }
            client = engine.connect()
            for index in 0..<1000 { _ = engine.createAndSealBatch([InlineObject(id: id(UInt64(index)), data: [1])], client: client) }
        }

        func id(_ n: UInt64) -> ObjectID {
            var bytes = [UInt8](repeating: 0, count: ObjectID.byteCount)
            withUnsafeBytes(of: n.littleEndian) { for (i, b) in $0.enumerated() { bytes[i] = b } }
            bytes[19] = 0xBE
            return ObjectID(bytes: bytes)!
        }

        /// `count` rounds of: create + seal + release + delete of a 64-byte object (put-small's engine
        /// work), then get + release of a present one (get-small's); ops per second.
        func run(_ count: Int, start: UInt64) -> Double {
            let data = [UInt8](repeating: 7, count: 64)
            let began = now()
            for n in 0..<UInt64(count) {
                let fresh = id(start + n + 1_000_000)
                ticket += 1
                _ = engine.create(fresh, dataSize: 64, metadataSize: 0, timeoutMilliseconds: 0, client: client, ticket: ticket)
                _ = engine.seal(fresh, client: client)
                _ = engine.release(fresh, client: client)
                _ = engine.delete(fresh)
                let present = id(n % 1000)
                ticket += 1
                _ = engine.get([present], timeoutMilliseconds: -1, client: client, ticket: ticket)
                _ = engine.release(present, client: client)
                _ = data
            }
            // What the server does once per loop pass with a cluster (a no-op without one).
            _ = engine.takeDemandChanges()
            return Double(count) / (Double(now() - began) / 1e9)
        }
    }

    static func measure(batches: Int = 21, perBatch: Int = 50_000) {
        let plain = Subject(clustered: false)
        let clustered = Subject(clustered: true)
        var plainRates: [Double] = []
        var clusterRates: [Double] = []
        for batch in 0..<batches {
            let start = UInt64(batch * perBatch)
            // Alternate which goes first, so neither always runs on a warmer cache.
            if batch % 2 == 0 {
                plainRates.append(plain.run(perBatch, start: start))
                clusterRates.append(clustered.run(perBatch, start: start))
            } else {
                clusterRates.append(clustered.run(perBatch, start: start))
                plainRates.append(plain.run(perBatch, start: start))
            }
        }
        let p = plainRates.sorted()[batches / 2]
        let c = clusterRates.sorted()[batches / 2]
        print("engine small-op rounds (create+seal+release+delete, get+release): plain \(Int(p)) /s, demand tracking on \(Int(c)) /s, ratio \(Double(Int(c / p * 1000)) / 1000) (medians of \(batches) alternating batches of \(perBatch))")
    }
}
