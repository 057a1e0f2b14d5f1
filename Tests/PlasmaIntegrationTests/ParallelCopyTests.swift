import Foundation
import PlasmaClient
import PlasmaTestSupport
import Synchronization
import Testing

extension IntegrationTests {
    /// Large puts copy into the arena on several threads (`ParallelCopy`): what another client gets back
    /// is every byte put, for sizes around the threshold, odd lengths, unaligned sources and offsets.
    @Suite struct ParallelCopyTests {
        static let mebibyte = 1 << 20
        static let threshold = ParallelCopy.defaultThreshold
        /// Around the threshold, odd lengths, a ragged last chunk.
        static let sizes = [threshold - 1, threshold, threshold + 1, threshold + 4095, 9 * mebibyte + 12345, 24 * mebibyte + 7]

        static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
            var random = SeededRandom(seed: seed)
            var bytes = [UInt8](repeating: 0, count: count)
            bytes.withUnsafeMutableBytes { buffer in
                var index = 0
                while index < buffer.count {
                    var word = random.next()
                    let step = min(8, buffer.count - index)
                    withUnsafeBytes(of: &word) { buffer.baseAddress!.advanced(by: index).copyMemory(from: $0.baseAddress!, byteCount: step) }
                    index += step
                }
            }
            return bytes
        }

        /// The object's bytes as a second client, with its own mapping, reads them.
        static func stored(_ id: ObjectID, in store: StoreProcess) throws -> [UInt8]? {
            try stored(id, socketPath: store.socketPath)
        }

        static func stored(_ id: ObjectID, socketPath: String) throws -> [UInt8]? {
            let reader = try PlasmaClient(socketPath: socketPath)
            defer { reader.close() }
            return try reader.get(id, timeout: .no)?.copyBytes()
        }

        @Test(arguments: [2, 3, 4])
        func largePutsStoreEveryByteWhateverTheThreads(threads: Int) throws {
            let store = try StoreProcess(memory: "256M")
            let client = try PlasmaClient(socketPath: store.socketPath, parallelCopy: ParallelCopy(threads: threads))
            #expect(client.parallelCopy.threads == threads)
            for (index, size) in Self.sizes.enumerated() {
                let id = ObjectID.random()
                let bytes = Self.randomBytes(size, seed: UInt64(threads * 100 + index))
                try client.put(id, bytes: bytes, metadata: [UInt8](repeating: 7, count: size % 5))
                #expect(try Self.stored(id, in: store) == bytes, "size \(size), \(threads) threads")
                try client.delete([id])
            }
        }

        @Test func writesAtUnalignedOffsetsFromUnalignedSourcesLandWhereTheyShould() throws {
            let store = try StoreProcess(memory: "256M")
            let client = try PlasmaClient(socketPath: store.socketPath, parallelCopy: ParallelCopy(threads: 2, threshold: 0))
            let size = 20 * Self.mebibyte + 3
            let source = Self.randomBytes(size + 64, seed: 7)
            let id = ObjectID.random()
            let object = try client.create(id, dataSize: size)
            let head = 4097  // the chunked write starts mid-page, from a source 13 bytes into its buffer
            try object.write(source[13..<(13 + size - head)], at: head)
            try object.write(source[0..<head])
            _ = try object.seal()
            #expect(try Self.stored(id, in: store) == Array(source[0..<head]) + Array(source[13..<(13 + size - head)]))
        }

        @Test func aLowThresholdChunksSmallerObjectsAndOffLeavesOneThread() throws {
            let store = try StoreProcess(memory: "256M")
            for copy in [ParallelCopy(threads: 2, threshold: 0), .off] {
                let client = try PlasmaClient(socketPath: store.socketPath, parallelCopy: copy)
                for (index, size) in [(64 << 10) + 1, 2 * Self.mebibyte - 1, 2 * Self.mebibyte, 3 * Self.mebibyte + 333].enumerated() {
                    let id = ObjectID.random()
                    let bytes = Self.randomBytes(size, seed: UInt64(1000 + index))
                    try client.put(id, bytes: bytes)
                    #expect(try Self.stored(id, in: store) == bytes, "size \(size), \(copy)")
                }
            }
        }

        @Test func putsFromMoreThreadsThanHelpersShareThePool() throws {
            let store = try StoreProcess(memory: "512M")
            let socketPath = store.socketPath
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { worker in
                do {
                    let client = try PlasmaClient(socketPath: socketPath, parallelCopy: ParallelCopy(threads: 4))
                    for round in 0..<3 {
                        let id = ObjectID.random()
                        let bytes = Self.randomBytes(9 * Self.mebibyte + worker, seed: UInt64(worker * 10 + round))
                        try client.put(id, bytes: bytes)
                        if try Self.stored(id, socketPath: socketPath) != bytes { failures.withLock { $0.append("worker \(worker) round \(round)") } }
                        try client.delete([id])
                    }
                } catch {
                    failures.withLock { $0.append("worker \(worker): \(error)") }
                }
            }
            #expect(failures.withLock { $0 } == [])
        }

        @Test func theAsyncClientCopiesTheSameWay() async throws {
            let store = try StoreProcess(memory: "256M")
            let client = try AsyncPlasmaClient(socketPath: store.socketPath, parallelCopy: ParallelCopy(threads: 2))
            let bytes = Self.randomBytes(Self.threshold + 777, seed: 99)
            let id = ObjectID.random()
            try await client.put(id, bytes: bytes)
            #expect(try Self.stored(id, in: store) == bytes)
        }
    }
}
