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

    @Test func aFailedWriteTheEngineNoLongerNeedsIsNotLoggedAsALoss() throws {
        let scratch = SpillDirectoryTests.Scratch()
        let lines = LogLines()
        let store = try FileExternalStore(directory: scratch.path, logger: Logger(label: "test") { _ in LinesHandler(lines: lines) })
        defer { store.removeAll() }
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 64)
        defer { bytes.deallocate() }
        bytes.initializeMemory(as: UInt8.self, repeating: 7)
        // A link at each file's name: the writes fail (nothing is written through it).
        for seed in UInt8(1)...2 {
            #expect(symlink(scratch.parent + "/nowhere", scratch.file("\(testID(seed).hex).plasma-spill")) == 0)
            store.beginSpill(testID(seed), UnsafeRawBufferPointer(bytes), dataSize: 64, ticket: UInt64(seed))
        }
        store.spillNeeded(false, ticket: 1)  // a get took testID(1) back
        #expect(store.finishedSpills(waitingForAll: true).sorted { $0.ticket < $1.ticket }
                == [SpillCompletion(ticket: 1, succeeded: false), SpillCompletion(ticket: 2, succeeded: false)])
        let logged = lines.all
        #expect(logged.contains { $0.contains("spilling object \(testID(1).hex)") && $0.contains("(the object no longer needed it)") })
        #expect(!logged.contains { $0.contains(testID(1).hex) && $0.contains("so it is dropped") })
        #expect(logged.contains { $0.contains("spilling object \(testID(2).hex)") && $0.contains("so it is dropped") })
    }
}

private final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var all: [String] { lock.withLock { lines } }
    func append(_ line: String) { lock.withLock { lines.append(line) } }
}

private struct LinesHandler: LogHandler {
    let lines: LogLines
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) { lines.append("\(event.message)") }
}
