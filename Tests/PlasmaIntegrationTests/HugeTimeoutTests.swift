import PlasmaClient
import PlasmaCore
import Testing

extension IntegrationTests {
    /// A timeout of any size is a timeout, not a crash: `.seconds(100_000_000_000)` once trapped in the
    /// client (SIGILL) before a request was sent.
    @Suite struct HugeTimeoutTests {
        static let huge: [Duration] = [.seconds(100_000_000_000), .seconds(Int64.max)]

        @Test(arguments: huge)
        func blockingGetWithAHugeTimeoutWaitsForTheSeal(timeout: Duration) throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let observer = try store.connect()
            let id = ObjectID.random()
            let getting = BackgroundCall { try client.get(id, timeout: .timeout(timeout)) }
            // The get waits in the store (with the huge timeout) before the writer starts.
            #expect(try eventually { try observer.statistics().pendingGets == 1 })
            let writer = try PeerProcess(["put", store.socketPath, id.hex, "4096", "3"])
            let buffer = try #require(try getting.value())
            #expect(checksum(buffer.copyBytes()) == checksum(pattern(size: 4096, seed: 3)))
            #expect(writer.nextLine() == "sealed")
        }

        @Test(arguments: huge)
        func asyncGetAndPutWithHugeDurationsWork(timeout: Duration) async throws {
            let store = try StoreProcess()
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            let id = ObjectID.random()
            try await client.put(id, bytes: [1, 2, 3], waitForSpace: .timeout(timeout))
            let buffer = try #require(try await client.get(id, timeout: .timeout(timeout)))
            #expect(buffer.copyBytes() == [1, 2, 3])
        }
    }
}
