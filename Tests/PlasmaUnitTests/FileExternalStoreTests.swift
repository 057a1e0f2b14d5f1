import Foundation
import Glibc
import Logging
import PlasmaCore
@testable import PlasmaEngine
@testable import PlasmaPosix
@testable import PlasmaStore
import Testing

/// The `file://` external store as the engine's sink (ExternalStore.swift), without a server.
@Suite struct FileExternalStoreTests {
    @Test func aRestoreRefusedBeforeAnyIOStillWakesTheLoop() throws {
        let scratch = SpillDirectoryTests.Scratch()
        let store = try FileExternalStore(directory: scratch.path, logger: Logger(label: "test"))
        defer { store.removeAll() }
        let completions = try #require(store.completions)
        completions.drain()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 64)
        defer { buffer.deallocate() }
        // Unknown to the store (the books out of step): refused at once, with no job for the thread.
        store.beginRestore(testID(1), into: buffer, dataSize: 64, ticket: 5)
        var counter: UInt64 = 0
        let read = withUnsafeMutableBytes(of: &counter) { Glibc.read(completions.rawValue, $0.baseAddress, 8) }
        #expect(read == 8 && counter >= 1, "the loop is woken to report it")
        #expect(store.finishedSpills(waitingForAll: false) == [SpillCompletion(ticket: 5, succeeded: false)])
    }
}
