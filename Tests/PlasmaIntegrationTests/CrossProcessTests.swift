import Foundation
import PlasmaClient
import PlasmaCore
import Testing

extension IntegrationTests {
    /// Objects cross process boundaries through the real daemon, with no copies.
    @Suite struct CrossProcessTests {
        @Test func bytesSealedByAnotherProcessAreReadHere() throws {
            let store = try StoreProcess()
            let id = ObjectID.random()
            let size = 3 << 20
            let writer = try PeerProcess(["put", store.socketPath, id.hex, "\(size)", "5"])
            #expect(writer.nextLine() == "sealed")

            let client = try store.connect()
            let buffer = try #require(try client.get(id, timeout: .no))
            #expect(buffer.count == size)
            #expect(checksum(buffer.copyBytes()) == checksum(pattern(size: size, seed: 5)))
        }

        @Test func bytesSealedHereAreReadByAnotherProcess() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let id = ObjectID.random()
            let data = pattern(size: 100_000, seed: 9)
            let object = try client.create(id, dataSize: data.count, metadata: Array("meta".utf8))
            try object.write(data)
            try object.seal()

            let reader = try PeerProcess(["get", store.socketPath, id.hex, "0"])
            #expect(reader.nextLine() == "checksum \(checksum(data)) size \(data.count) metadata 4")
        }

        @Test func getWaitsForASealFromAnotherProcess() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let observer = try store.connect()
            let id = ObjectID.random()
            let getting = BackgroundCall { try client.get(id, timeout: .timeout(.seconds(20))) }
            // The get waits in the store before the object exists; only then does the writer start.
            #expect(try eventually { try observer.statistics().pendingGets == 1 })
            let writer = try PeerProcess(["put", store.socketPath, id.hex, "4096", "1"])
            let buffer = try #require(try getting.value())
            #expect(checksum(buffer.copyBytes()) == checksum(pattern(size: 4096, seed: 1)))
            #expect(writer.nextLine() == "sealed")
        }

        @Test func getOfManyIdsReturnsWhatIsSealedWhenTheTimeoutPasses() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let present = ObjectID.random()
            let absent = ObjectID.random()
            try client.createAndSeal(present, data: [1, 2, 3])
            // A lower bound only (the store must not answer before the timeout): load can't break it.
            let started = ContinuousClock.now
            let buffers = try client.get([present, absent, present], timeout: .timeout(.milliseconds(200)))
            #expect(started.duration(to: .now) >= .milliseconds(190))
            #expect(buffers.map { $0 != nil } == [true, false, true])
            #expect(buffers[0]!.copyBytes() == [1, 2, 3])
            #expect(try client.statistics().pendingGets == 0)
        }

        @Test func aGetWaitingOnOneThreadDoesNotBlockAnotherThreadsRequests() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let id = ObjectID.random()
            let waited = BackgroundCall { try client.get(id, timeout: .timeout(.seconds(20)))?.count }
            #expect(try eventually { try client.statistics().pendingGets == 1 })
            let object = try client.create(id, dataSize: 10)
            try object.seal()
            #expect(try waited.value() == 10)
        }

        @Test func aStrayWriteThroughAGetBufferFaultsInsteadOfCorrupting() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let id = ObjectID.random()
            try client.createAndSeal(id, data: [42, 42, 42])
            let vandal = try PeerProcess(["write-to-get", store.socketPath, id.hex])
            #expect(vandal.nextLine() == "writing")
            let (status, reason) = vandal.waitForExit()
            #expect(reason == .uncaughtSignal && status == SIGSEGV)
            #expect(try #require(try client.get(id, timeout: .no)).copyBytes() == [42, 42, 42])
        }

        @Test func metadataTravelsWithTheObject() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let id = ObjectID.random()
            try client.createAndSeal(id, data: Array("payload".utf8), metadata: Array("type=text".utf8))
            let buffer = try #require(try client.get(id, timeout: .no))
            #expect(String(decoding: buffer.copyBytes(), as: UTF8.self) == "payload")
            #expect(String(decoding: buffer.copyMetadata(), as: UTF8.self) == "type=text")
        }
    }
}
