import Foundation
import Glibc
import PlasmaArrowClient
import PlasmaClient
import PlasmaCore
import PlasmaPosix
import PlasmaWire
import Testing

extension IntegrationTests {
    /// The store serving Arrow Plasma (pyarrow 11) clients on its one socket, driven by a raw Arrow
    /// client built from the codec (no Python needed; Tests/arrow-interop runs the real pyarrow).
    @Suite struct ArrowDialectTests {
        static let digest: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]

        /// Creates, fills and seals an object through `client`; returns its spec.
        @discardableResult
        func put(_ client: ArrowClient, _ id: ObjectID, data: [UInt8], metadata: [UInt8] = []) throws -> ArrowObjectSpec {
            guard case .create(_, let spec, .ok, _, _) = try client.call(
                .create(id: id, evictIfFull: true, dataSize: UInt64(data.count), metadataSize: UInt64(metadata.count), deviceNum: 0))
            else { throw Failure("create failed") }
            try client.write(data + metadata, at: spec)
            #expect(try client.call(.seal(id: id, digest: Self.digest)) == .seal(id: id, error: .ok))
            return spec
        }

        @Test func connectCreateSealGetReleaseContainsListDelete() throws {
            let store = try StoreProcess(memory: "1000000", shortFlags: true)
            let writer = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            #expect(try writer.call(.connect) == .connect(memoryCapacity: 1_000_000))
            #expect(store.waitForLog("speaks the Arrow plasma dialect"))

            let id = ObjectID.random()
            let reply = try writer.call(.create(id: id, evictIfFull: true, dataSize: 10, metadataSize: 3, deviceNum: 0))
            guard case .create(id, let spec, .ok, let storeFd, let mmapSize) = reply else { throw Failure("\(reply)") }
            #expect(storeFd == spec.segmentIndex)
            #expect(spec.metadataOffset == spec.dataOffset + 10)
            #expect(mmapSize - 8 >= 1_000_000, "the whole arena is mapped")
            try writer.write(Array(0..<10) + [77, 78, 79], at: spec)
            #expect(try writer.call(.contains(id: id)) == .contains(id: id, hasObject: false), "unsealed is not contained")
            #expect(try writer.call(.seal(id: id, digest: Self.digest)) == .seal(id: id, error: .ok))
            #expect(try writer.call(.contains(id: id)) == .contains(id: id, hasObject: true))

            let reader = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            let missing = ObjectID.random()
            let got = try reader.call(.get(ids: [id, missing], timeoutMs: 0))
            guard case .get([id, missing], let specs, [spec.segmentIndex], _) = got else { throw Failure("\(got)") }
            #expect(specs[1] == .notFound)
            #expect(try reader.bytes(of: specs[0]) == Array(0..<10))
            #expect(try reader.bytes(of: specs[0], metadata: true) == [77, 78, 79])
            // A second get by the same client takes no second reference (Arrow counts clients).
            _ = try reader.call(.get(ids: [id], timeoutMs: 0))

            func listed() throws -> ArrowObjectInfo? {
                guard case .list(let infos) = try writer.call(.list) else { return nil }
                return infos.first { $0.objectID == id }
            }
            let info = try #require(try listed())
            #expect(info.digest == Self.digest && info.dataSize == 10 && info.metadataSize == 3)
            #expect(info.refCount == 2, "the writer (creator) and the reader")
            try reader.send(.release(id: id))  // no reply: a round trip on the same socket orders it
            _ = try reader.call(.contains(id: id))
            try writer.send(.release(id: id))
            #expect(try listed()?.refCount == 0)

            #expect(try writer.call(.delete(ids: [id, missing])) == .delete(ids: [id, missing], errors: [.ok, .objectNotFound]))
            #expect(try writer.call(.contains(id: id)) == .contains(id: id, hasObject: false))
            #expect(!store.log.contains("warning"), "log: \(store.log)")
        }

        @Test func aBlockingGetWithRepeatedIdsIsAnsweredWhenTheObjectIsSealed() throws {
            let store = try StoreProcess()
            let waiter = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            let id = ObjectID.random()
            // Arrow's store crashed (SIGFPE) on a blocking get listing an id twice.
            try waiter.send(.get(ids: [id, id], timeoutMs: -1))
            // The get waits in the store before the object exists, so the seal is what answers it.
            let observer = try store.connect()
            #expect(try eventually { try observer.statistics().pendingGets == 1 })
            let writer = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            try put(writer, id, data: [9, 9, 9])
            let reply = try waiter.readReply()
            #expect(reply.getSpecs.count == 2 && reply.getSpecs.allSatisfy(\.isPresent))
            #expect(try waiter.bytes(of: reply.getSpecs[1]) == [9, 9, 9])
            guard case .list(let infos) = try writer.call(.list) else { throw Failure("no list") }
            #expect(infos.first { $0.objectID == id }?.refCount == 2, "one reference per client, however often it asked")
        }

        @Test func subscribersHearOfExistingObjectsSealsAndDeletions() throws {
            let store = try StoreProcess()
            let client = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            let existing = ObjectID.random()
            #expect(try client.call(.createAndSeal(id: existing, evictIfFull: true, data: [1, 2], metadata: [3], digest: Self.digest))
                == .createAndSeal(error: .ok))
            let notifications = try client.subscribe()
            #expect(try ArrowClient.nextNotification(notifications)?.objects
                == [.sealed(id: existing, dataSize: 2, metadataSize: 1, digest: Self.digest)])

            let fresh = ObjectID.random()
            try put(client, fresh, data: [5, 5, 5, 5])
            #expect(try ArrowClient.nextNotification(notifications)?.objects
                == [.sealed(id: fresh, dataSize: 4, metadataSize: 0, digest: Self.digest)])
            _ = try client.call(.delete(ids: [existing]))
            #expect(try ArrowClient.nextNotification(notifications)?.objects == [.deleted(id: existing)])

            // A second Subscribe: its fd is accepted and closed (Arrow's store desynced and aborted).
            let second = try client.subscribe()
            #expect(try ArrowClient.nextNotification(second) == nil, "the second notification socket is closed")
            #expect(store.waitForLog("subscribed twice"))
            #expect(try client.call(.contains(id: fresh)) == .contains(id: fresh, hasObject: true))
        }

        @Test func aSubscriberThatStopsReadingLosesItsNotificationSocketNotTheStore() throws {
            let store = try StoreProcess(arguments: ["--arrow-notification-backlog", "100"])
            let client = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            let notifications = try client.subscribe()
            // Far more than the socket buffer plus 100 notifications, none of them read.
            for _ in 0..<4000 {
                _ = try client.call(.createAndSeal(id: .random(), evictIfFull: true, data: [1], metadata: [], digest: Self.digest))
            }
            #expect(store.waitForLog("reads notifications too slowly"), "log: \(store.log)")
            var received = 0
            while try ArrowClient.nextNotification(notifications) != nil { received += 1 }
            #expect(received > 0 && received < 4000, "what was sent arrives, then EOF")
            #expect(try client.call(.contains(id: .random())).isContainsReply, "the client itself is still served")
            #expect(try store.connect().statistics().arrowSubscriptionsDropped == 1, "counted, not only logged")
        }

        /// Review finding: the store wrote notifications with a plain send on the descriptor the client
        /// passed, relying on O_NONBLOCK, a flag of the open file description the client shares and can
        /// clear. A client that kept a copy and made it blocking then hung the store's whole loop in
        /// send once the socket filled. Before the fix the seals below stopped being answered (the store
        /// sat in send(2)); the test gives them 60 s, over 100 times what they take.
        @Test func aSubscriberThatMakesItsNotificationSocketBlockingCannotBlockTheStore() throws {
            let store = try StoreProcess(arguments: ["--arrow-notification-backlog", "100"])
            let subscriber = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            let (reader, writer) = try UnixSocket.pair()
            defer { reader.close(); writer.close() }
            try subscriber.send(.subscribe)
            guard try subscriber.socket.sendArrowDescriptor(writer.rawValue) else { throw Failure("the fling did not fit") }
            // Answered after the subscribe (frames run in order): the store has the descriptor now.
            #expect(try subscriber.call(.contains(id: .random())).isContainsReply)
            try writer.setNonBlocking(false)  // the store's copy shares this flag
            let path = store.socketPath
            // Far more than the socket buffer holds, none of them read; on a thread, so that a store stuck
            // in send fails the test rather than hanging it.
            let seals = BackgroundCall {
                let sealer = try ArrowClient(path: path, receiveTimeout: 20)
                for _ in 0..<4000 {
                    _ = try sealer.call(.createAndSeal(id: .random(), evictIfFull: true, data: [1], metadata: [], digest: Self.digest))
                }
            }
            try seals.value(timeout: 60)
            #expect(store.waitForLog("reads notifications too slowly"), "log: \(store.log)")
            #expect(try subscriber.call(.contains(id: .random())).isContainsReply, "still serving")
        }

        @Test func theBurstAnnouncingExistingObjectsDoesNotCountAgainstTheLimit() throws {
            let store = try StoreProcess(arguments: ["--arrow-notification-backlog", "100"])
            let client = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            let objects = try [UInt8](repeating: 0, count: 3000).map { _ in
                let id = ObjectID.random()
                _ = try client.call(.createAndSeal(id: id, evictIfFull: true, data: [2], metadata: [], digest: Self.digest))
                return id
            }
            let notifications = try client.subscribe()
            let last = ObjectID.random()
            _ = try client.call(.createAndSeal(id: last, evictIfFull: true, data: [3], metadata: [], digest: Self.digest))
            var seen: [ObjectID] = []
            while seen.count < objects.count + 1, let next = try ArrowClient.nextNotification(notifications) {
                seen += next.objects.map(\.objectID)
            }
            #expect(Set(seen) == Set(objects + [last]))
            #expect(!store.log.contains("too slowly"), "log: \(store.log)")
        }

        @Test func misuseArrowsStoreAbortedOnGetsAnErrorOrIsIgnoredWithALogLine() throws {
            let store = try StoreProcess()
            let client = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            let other = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            let sealed = ObjectID.random()
            try put(client, sealed, data: [1])
            let unknown = ObjectID.random()

            try client.send(.release(id: unknown))
            #expect(store.waitForLog("Arrow release of \(unknown.hex) ignored"))
            #expect(try client.call(.seal(id: unknown, digest: Self.digest)) == .seal(id: unknown, error: .objectNotFound))
            #expect(try client.call(.seal(id: sealed, digest: Self.digest)) == .seal(id: sealed, error: .objectExists))
            let othersObject = ObjectID.random()
            _ = try other.call(.create(id: othersObject, evictIfFull: true, dataSize: 4, metadataSize: 0, deviceNum: 0))
            #expect(try client.call(.abort(id: othersObject)) == .abort(id: othersObject))
            #expect(store.waitForLog("Arrow abort of \(othersObject.hex) refused"))
            #expect(try client.call(.create(id: sealed, evictIfFull: true, dataSize: 1, metadataSize: 0, deviceNum: 0))
                .isError(.objectExists))
            #expect(try client.call(.create(id: .random(), evictIfFull: true, dataSize: 1 << 40, metadataSize: 0, deviceNum: 0))
                .isError(.outOfMemory))
            #expect(try client.call(.contains(id: sealed)) == .contains(id: sealed, hasObject: true), "still served")
            #expect(try other.call(.abort(id: othersObject)) == .abort(id: othersObject))
        }

        /// Frames Arrow's store died on: each disconnects its sender only, with a log line.
        @Test(arguments: [
            ("wrong digest length", ArrowRequest.seal(id: ObjectID(hex: String(repeating: "ab", count: 20))!, digest: [1, 2, 3]).encode(), "digest of 3 bytes"),
            ("unused type (Unsubscribe)", ArrowFrame.encode(type: .unsubscribeRequest, payload: []), "malformed or unsupported request (type 24)"),
            ("unknown type", ArrowFrameHeaderBytes.frame(type: 99, payload: []), "(type 99)"),
            ("version 20 header", ArrowFrameHeaderBytes.frame(version: 20, type: 19, payload: []), "version 20"),
            ("2^40-byte payload", ArrowFrameHeaderBytes.frame(type: 1, length: 1 << 40, payload: []), "exceeds the limit"),
            ("garbage flatbuffer", ArrowFrameHeaderBytes.frame(type: 7, payload: [0xff, 0xff, 0xff, 0xff]), "malformed or unsupported request (type 7)"),
        ])
        func aBadFrameDisconnectsOnlyItsSender(_ name: String, _ frame: [UInt8], _ logged: String) throws {
            let store = try StoreProcess()
            let bystander = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            let id = ObjectID.random()
            try put(bystander, id, data: [4])
            let attacker = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            #expect(try attacker.call(.connect) == .connect(memoryCapacity: 64 << 20))
            try attacker.sendRaw(frame)
            #expect(attacker.isClosedByStore(), "\(name): not disconnected")
            #expect(store.waitForLog(logged), "\(name): log: \(store.log)")
            #expect(try bystander.call(.contains(id: id)) == .contains(id: id, hasObject: true))
            #expect(try store.connect().contains(id))
        }

        @Test func nativeAndArrowClientsSeeEachOthersObjectsAndEvents() throws {
            let store = try StoreProcess()
            let native = try store.connect()
            let arrow = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            let nativeEvents = try RawConnection(path: store.socketPath)
            #expect(try nativeEvents.call(.subscribe(subscriptionID: 7, filter: .all)) == .done)
            let arrowEvents = try arrow.subscribe()

            let fromNative = ObjectID.random()
            try native.createAndSeal(fromNative, data: Array("native bytes".utf8), metadata: [1, 2])
            let got = try arrow.call(.get(ids: [fromNative], timeoutMs: 1000))
            #expect(try arrow.bytes(of: got.getSpecs[0]) == Array("native bytes".utf8))
            #expect(try arrow.bytes(of: got.getSpecs[0], metadata: true) == [1, 2])
            #expect(try ArrowClient.nextNotification(arrowEvents)?.objects
                == [.sealed(id: fromNative, dataSize: 12, metadataSize: 2, digest: [UInt8](repeating: 0, count: 8))],
                "native seals carry no digest: 8 zero bytes")

            let fromArrow = ObjectID.random()
            try put(arrow, fromArrow, data: Array("arrow bytes".utf8), metadata: [3])
            let buffer = try #require(try native.get(fromArrow, timeout: .timeout(.seconds(1))))
            #expect(buffer.copyBytes() == Array("arrow bytes".utf8) && buffer.copyMetadata() == [3])
            try buffer.release()
            var events: [ObjectEvent] = []
            while events.count < 2, case .event(7, let event) = try nativeEvents.readFrame() { events.append(event) }
            #expect(events == [.sealed(fromNative, dataSize: 12, metadataSize: 2), .sealed(fromArrow, dataSize: 11, metadataSize: 1)])
            #expect(try ArrowClient.nextNotification(arrowEvents)?.objects.first?.objectID == fromArrow)
        }

        @Test func arrowEvictionFollowsTheLRUAndEvictsAtLeastAFifthOnCreatePressure() throws {
            let store = try StoreProcess(memory: "100000")
            let client = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            func createAndSeal(_ size: Int) throws -> ObjectID {
                let id = ObjectID.random()
                #expect(try client.call(.createAndSeal(id: id, evictIfFull: true, data: [UInt8](repeating: 1, count: size),
                                                       metadata: [], digest: Self.digest)) == .createAndSeal(error: .ok))
                return id
            }
            let ids = try (0..<10).map { _ in try createAndSeal(9000) }  // 90 % full, all evictable
            #expect(try client.call(.refreshLRU(ids: [ids[0]])) == .refreshLRU)
            #expect(try client.call(.evict(numBytes: 1)) == .evict(numBytes: 9000))
            #expect(try client.call(.contains(id: ids[1])) == .contains(id: ids[1], hasObject: false), "oldest unrefreshed goes first")
            // 81 % used; 30 % more needs 11 % freed, but Arrow evicts at least 20 %: three objects.
            _ = try createAndSeal(30000)
            let left = try ids.filter { id in try client.call(.contains(id: id)) == .contains(id: id, hasObject: true) }
            #expect(left.count == 6 && left.contains(ids[0]))
        }

        @Test func fileExternalStoreSpillsAndRestoresWithoutLosingAnything() throws {
            let directory = "/tmp/plasma-spill-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let store = try StoreProcess(memory: "1M", arguments: ["--external-store", "file://\(directory)"])
            let client = try store.connect()
            let ids = (0..<10).map { _ in ObjectID.random() }
            for (index, id) in ids.enumerated() {
                try client.createAndSeal(id, data: pattern(size: 300_000, seed: index), metadata: [UInt8(index)])
            }
            #expect(try client.statistics().spilledObjects >= 7)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).count >= 7)
            for (index, id) in ids.enumerated() {
                #expect(try client.contains(id))
                let buffer = try #require(try client.get(id, timeout: .no))
                #expect(checksum(buffer.copyBytes()) == checksum(pattern(size: 300_000, seed: index)))
                #expect(buffer.copyMetadata() == [UInt8(index)])
                try buffer.release()
            }
            let statistics = try client.statistics()
            #expect(statistics.restoredObjects >= 7 && statistics.restoredBytes >= 7 * 300_000)
            #expect(try client.list().count == 10, "spilled objects are listed")
            #expect(store.stop() == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty, "spill files removed at exit")
        }

        @Test func aSpillFileRemovedBehindTheStoresBackLosesThatObjectOnlyAndKeepsTheBooksRight() throws {
            let directory = "/tmp/plasma-spill-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let store = try StoreProcess(memory: "1M", arguments: ["--external-store", "file://\(directory)"])
            let client = try store.connect()
            let ids = (0..<6).map { _ in ObjectID.random() }
            for (index, id) in ids.enumerated() { try client.createAndSeal(id, data: pattern(size: 300_000, seed: index)) }
            let lost = ids[0]  // the oldest: spilled first
            let spillFile = "\(directory)/\(lost.hex).plasma-spill"
            #expect(FileManager.default.fileExists(atPath: spillFile))
            try FileManager.default.removeItem(atPath: spillFile)
            let before = try client.statistics()

            #expect(try client.get(lost, timeout: .no) == nil, "unreadable: gone")
            #expect(try !client.contains(lost))
            // Making room for it may have spilled another object, so count both places.
            let after = try client.statistics()
            #expect(after.sealedObjects + after.spilledObjects == before.sealedObjects + before.spilledObjects - 1)
            #expect(after.spilledBytes == after.spilledObjects * 300_000)
            #expect(after.deletedObjects == before.deletedObjects + 1)
            #expect(try client.list().count == 5)
            for (index, id) in ids.enumerated().dropFirst() {  // the rest come back intact
                let buffer = try #require(try client.get(id, timeout: .no))
                #expect(checksum(buffer.copyBytes()) == checksum(pattern(size: 300_000, seed: index)))
                try buffer.release()
            }
            #expect(store.stop() == 0)
        }
    }
}

/// Raw Arrow headers the encoder won't produce: other versions, unknown types, lying lengths.
enum ArrowFrameHeaderBytes {
    static func frame(version: Int64 = 0, type: Int64, length: Int64? = nil, payload: [UInt8]) -> [UInt8] {
        var bytes = [UInt8]()
        for field in [version, type, length ?? Int64(payload.count)] {
            withUnsafeBytes(of: field.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes + payload
    }
}

extension ArrowReply {
    var isContainsReply: Bool {
        if case .contains = self { return true }
        return false
    }

    func isError(_ error: ArrowPlasmaError) -> Bool {
        if case .create(_, _, let actual, _, _) = self { return actual == error }
        return false
    }
}
