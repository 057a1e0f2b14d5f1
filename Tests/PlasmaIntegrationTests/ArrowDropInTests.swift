import Glibc
import PlasmaArrowClient
import PlasmaClient
import PlasmaCore
import PlasmaPosix
import PlasmaWire
import Testing

extension IntegrationTests {
    /// Where pyarrow programs that work on Arrow's store used to fail on ours (issue 13): client limits
    /// that sent Arrow clients a native frame, id counts past the native limit, a late subscriber's
    /// stream. Tests/arrow-interop/test_dropin_fidelity.py runs the same with real pyarrow against both.
    @Suite struct ArrowDropInTests {
        static let digest: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]

        /// Distinct, reproducible ids: `tag` and the index in the first bytes.
        static func ids(_ count: Int, tag: UInt8) -> [ObjectID] {
            (0..<count).map { index in
                ObjectID(bytes: [tag] + withUnsafeBytes(of: UInt64(index).littleEndian, Array.init) + [UInt8](repeating: 0, count: 11))!
            }
        }

        @Test func arrowClientsDontCountAgainstMaxClientsAndNeverGetANativeFrame() throws {
            let store = try StoreProcess(arguments: ["--max-clients", "1"])
            let native = try store.connect()
            let arrowClients = try (0..<4).map { _ in try ArrowClient(path: store.socketPath, receiveTimeout: 20) }
            for client in arrowClients {
                #expect(try client.call(.connect) == .connect(memoryCapacity: 64 << 20))
            }
            // The limit still holds for native clients, with its native notice.
            let error = #expect(throws: PlasmaClientError.self) { try store.connect() }
            #expect(error?.status == .limitReached)
            #expect("\(String(describing: error))".contains("--max-clients"))
            let statistics = try native.statistics()
            #expect(statistics.connectionsRefused == 1)
            #expect(statistics.clients == 5, "one native and four Arrow clients")
        }

        @Test func pastMaxArrowClientsAnArrowClientIsClosedWithoutAFrame() throws {
            let store = try StoreProcess(arguments: ["--max-arrow-clients", "1"])
            let first = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            #expect(try first.call(.connect) == .connect(memoryCapacity: 64 << 20))
            let second = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            try second.send(.connect)
            #expect(second.isClosedByStore(), "EOF, not a reply and never a native frame")
            #expect(store.waitForLog("--max-arrow-clients"))
            #expect(try store.connect().statistics().connectionsRefused == 1, "native clients are not Arrow's limit")
            #expect(try first.call(.contains(id: .random())).isContainsReply, "the first is still served")
        }

        @Test func getsAndDeletesTakeMoreIdsThanTheNativeLimit() throws {
            let store = try StoreProcess()
            let arrow = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            let ids = Self.ids(70_001, tag: 1)  // the native protocol takes 65,536 per request
            let present = stride(from: 0, to: ids.count, by: 1000).map { ids[$0] }
            for id in present {
                #expect(try arrow.call(.createAndSeal(id: id, evictIfFull: true, data: [7], metadata: [], digest: Self.digest))
                    == .createAndSeal(error: .ok))
            }
            let specs = try arrow.call(.get(ids: ids, timeoutMs: 0)).getSpecs
            #expect(specs.count == ids.count)
            #expect(specs.indices.filter { specs[$0] != .notFound } == Array(stride(from: 0, to: ids.count, by: 1000)))
            for id in present { try arrow.send(.release(id: id)) }
            guard case .delete(_, let deleted, let errors) = try arrow.call(.delete(ids: ids)) else {
                throw Failure("not a delete reply")
            }
            #expect(deleted == ids)
            #expect(errors.filter { $0 == .ok }.count == present.count)
            #expect(errors.filter { $0 == .objectNotFound }.count == ids.count - present.count)
            #expect(try arrow.call(.list) == .list([]))
        }

        @Test func aLateSubscriberKeepsItsStreamFarPastTheNativeEventBuffer() throws {
            // --client-buffer 4K would have dropped it after ~30 notifications; the Arrow backlog is its own.
            let store = try StoreProcess(arguments: ["--client-buffer", "4K"])
            let client = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            let notifications = try client.subscribe()
            let ids = Self.ids(20_000, tag: 2)
            for id in ids {
                _ = try client.call(.createAndSeal(id: id, evictIfFull: true, data: [1], metadata: [], digest: Self.digest))
            }
            var seen: [ObjectID] = []
            while seen.count < ids.count, let next = try ArrowClient.nextNotification(notifications) {
                seen += next.objects.map(\.objectID)
            }
            #expect(seen == ids, "every seal, in order")
            #expect(try store.connect().statistics().arrowSubscriptionsDropped == 0)
        }
    }
}
