import PlasmaClient
import PlasmaTestSupport
import Testing

extension IntegrationTests {
    /// Whatever number a caller passes (sizes, byte counts, timeouts), the client answers with a value or
    /// a `PlasmaClientError`: it never traps, and the store keeps serving. A trap would end this test
    /// process, so getting to the end is the check; the expectations pin what each input means.
    @Suite struct NumericInputTests {
        static let extremes = [Int.min, -1 << 40, -1, 0, 1, 63, 64, 4096, 1 << 20, 1 << 40, Int.max - 1, Int.max]

        /// The extremes and 200 seeded random values spread over every magnitude.
        static func sizes(seed: UInt64) -> [Int] {
            var random = SeededRandom(seed: seed)
            return extremes + (0..<200).map { _ in Int(bitPattern: UInt(random.next() >> (random.next() % 64))) }
        }

        @Test func blockingCreateAndEvictTakeAnySize() throws {
            let store = try StoreProcess(memory: "16M")
            let client = try store.connect()
            for size in Self.sizes(seed: 21) {
                do {
                    let object = try client.create(.random(), dataSize: size, waitForSpace: .timeout(.milliseconds(1)))
                    #expect(size >= 0 && size <= 16 << 20 && object.count == size)
                    try object.abort()
                } catch {
                    if size < 0 { #expect(error == .invalidArgument("dataSize must be at least 0, got \(size)")) }
                    else { #expect(error.status != nil, "a size the store refuses: \(error)") }
                }
                do {
                    let evicted = try client.evict(size)
                    #expect(size >= 0 && evicted.bytes >= 0)
                } catch {
                    #expect(size < 0 && error == .invalidArgument("bytes to evict must be at least 0, got \(size)"))
                }
            }
            #expect(try client.statistics().createdObjects == 0)
        }

        @Test func asyncPutAndEvictTakeAnySize() async throws {
            let store = try StoreProcess(memory: "16M")
            let client = try AsyncPlasmaClient(socketPath: store.socketPath)
            for size in Self.sizes(seed: 22) {
                do {
                    try await client.put(.random(), size: size, waitForSpace: .timeout(.milliseconds(1))) { _ in }
                    #expect(size >= 0 && size <= 16 << 20)
                } catch {
                    if size < 0 { #expect(error == .invalidArgument("size must be at least 0, got \(size)")) }
                    else { #expect(error.status != nil, "a size the store refuses: \(error)") }
                }
                do {
                    _ = try await client.evict(size)
                    #expect(size >= 0)
                } catch {
                    #expect(size < 0 && error == .invalidArgument("bytes to evict must be at least 0, got \(size)"))
                }
            }
            #expect(try await client.statistics().createdObjects == 0)
        }
    }
}
