import Foundation
import PlasmaClient
import Testing

extension IntegrationTests {
    /// Object bytes are reachable only while the object is held (issue 11): scoped access, a release
    /// that waits for accesses in progress, and a stop instead of a read after release. That writing
    /// after seal doesn't compile is checked by .ci/check-url-dependency.sh (a type error can't be a test
    /// that runs).
    @Suite struct ObjectAccessTests {
        @Test func readingABufferAfterReleaseStopsTheProgramInsteadOfReadingReusedMemory() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let id = ObjectID.random()
            try client.createAndSeal(id, data: [9, 9, 9])
            let reader = try PeerProcess(["read-after-release", store.socketPath, id.hex])
            #expect(reader.nextLine() == "released")
            let (_, reason) = reader.waitForExit()
            #expect(reason == .uncaughtSignal)  // the precondition, before any "read" line
            #expect(reader.nextLine(timeout: 1) == nil)
            #expect(try eventually { try client.list().first { $0.id == id }?.referenceCount == 0 })
        }

        @Test func aReleaseDuringAnAccessTakesEffectWhenTheAccessEnds() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let observer = try store.connect()
            let id = ObjectID.random()
            try client.createAndSeal(id, data: [1, 2, 3, 4])
            let buffer = try #require(try client.get(id, timeout: .no))
            let sum = try buffer.withUnsafeBytes { bytes in
                try buffer.release()
                // Still held while this access runs: the store may not reuse the bytes under it.
                #expect(try observer.list().first { $0.id == id }?.referenceCount == 1)
                return bytes.reduce(0) { $0 + Int($1) }
            }
            #expect(sum == 10)
            #expect(try eventually { try observer.list().first { $0.id == id }?.referenceCount == 0 })
        }

        @Test func sealReturnsTheObjectHoldingTheCreatorsReference() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let id = ObjectID.random()
            let object = try client.create(id, dataSize: 5, metadata: [7])
            #expect(object.count == 5 && object.metadataCount == 1)
            try object.write(Array("hello".utf8))
            let sealed = try object.seal()
            #expect(sealed.id == id && sealed.copyBytes() == Array("hello".utf8) && sealed.copyMetadata() == [7])
            #expect(sealed.copyData() == Data("hello".utf8))
            #expect(try client.list().first { $0.id == id }?.referenceCount == 1)
            try sealed.release()
            #expect(try client.list().first { $0.id == id }?.referenceCount == 0)
        }

        @Test(arguments: [(4, 2), (-1, 1), (0, 6), (Int.max, 1)])
        func aWriteOutsideTheObjectThrowsAndWritesNothing(offset: Int, count: Int) throws {
            let store = try StoreProcess()
            let client = try store.connect()
            let object = try client.create(.random(), dataSize: 5)
            try object.write([UInt8](repeating: 1, count: 5))
            let error = #expect(throws: PlasmaClientError.self) {
                try object.write([UInt8](repeating: 2, count: count), at: offset)
            }
            #expect("\(String(describing: error))".contains("don't fit the 5 bytes"))
            #expect(try object.seal().copyBytes() == [1, 1, 1, 1, 1])
        }

        @Test func droppingAnUnsealedObjectAbortsIt() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            do {
                let object = try client.create(.random(), dataSize: 100)
                try object.write([1])
            }
            #expect(try eventually { try client.statistics().createdObjects == 0 })
        }
    }
}
