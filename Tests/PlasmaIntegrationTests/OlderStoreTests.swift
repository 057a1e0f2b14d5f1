import Foundation
import Glibc
import PlasmaCore
import PlasmaPosix
import PlasmaWire
import Testing

extension IntegrationTests {
    /// Today's tools against a store from before a protocol addition: they still work.
    @Suite struct OlderStoreTests {
        /// `plasma list` asks for rows with their origin (the list's row format, one byte more); a store
        /// older than the row format took that for a malformed request and closed the connection, and
        /// the CLI failed. It now asks again the old way.
        @Test func listFallsBackToPlainRowsWithAStoreOlderThanTheRowFormat() throws {
            let id = ObjectID.random()
            let row = ObjectInfo(
                id: id, dataSize: 4_096, metadataSize: 0, referenceCount: 0, state: .sealed,
                createdAtNanoseconds: Int64(Date().timeIntervalSince1970 * 1e9), sealDurationNanoseconds: 1_000, deletePending: false)
            let store = try OlderStore(row: row)
            defer { store.stop() }
            let table = try PlasmaRun(["list"], socket: store.path).finish()
            #expect(table.status == 0, "\(table.err)")
            let line = try #require(table.out.split(separator: "\n").first { $0.hasPrefix(id.hex) }, "\(table.out)")
            #expect(line.contains("sealed") && line.hasSuffix("-"), "no origin from an older store")
            #expect(store.refusedRowFormat >= 1, "the CLI did ask for origins first")
        }
    }

    /// A native store as old as before the list's row format (docs/PROTOCOL.md, "12 list"): it answers
    /// `connect` (a small file as its arena) and a plain `list` with one row, and closes the connection
    /// on a list that carries a row-format byte, as such a store did with any trailing byte.
    final class OlderStore: @unchecked Sendable {
        let path: String
        private let directory: String
        private let listener: UnixSocket
        private let arena: Int32
        private let row: ObjectInfo
        private let lock = NSLock()
        private var refusals = 0
        private var stopped = false

        /// Lists refused for their row-format byte so far.
        var refusedRowFormat: Int { lock.withLock { refusals } }

        init(row: ObjectInfo) throws {
            self.row = row
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("older-store-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            path = directory + "/plasma.sock"
            listener = try UnixSocket.listen(path: path, mode: 0o600)
            arena = open(directory + "/arena", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard arena >= 0, ftruncate(arena, 1 << 20) == 0 else { throw Failure("arena file: errno \(errno)") }
            let thread = Thread { [self] in
                while let connection = try? acceptNext() { serve(connection) }
            }
            thread.start()
        }

        /// Ends the accept loop (its thread then lets go of the store).
        func stop() {
            lock.withLock { stopped = true }
            listener.shutdown()
        }

        deinit {
            listener.close()
            close(arena)
            try? FileManager.default.removeItem(atPath: directory)
        }

        private func acceptNext() throws -> UnixSocket {
            while true {
                guard !lock.withLock({ stopped }) else { throw Failure("stopped") }
                try listener.waitUntilReadable()
                if let connection = try listener.accept() {
                    try connection.setNonBlocking(false)
                    return connection
                }
            }
        }

        /// Frames in order until the client leaves or sends what this store doesn't know.
        private func serve(_ connection: UnixSocket) {
            defer { connection.close() }
            var header = [UInt8](repeating: 0, count: FrameHeader.size)
            while (try? header.withUnsafeMutableBytes({ try connection.readExactly(into: $0) })) == true {
                guard let frame = try? header.withUnsafeBytes({ try FrameHeader.decode($0, maxPayload: 1 << 20) }) else { return }
                var payload = [UInt8](repeating: 0, count: frame.payloadLength)
                guard (try? payload.withUnsafeMutableBytes({ try connection.readExactly(into: $0) })) == true else { return }
                var writer = ByteWriter()
                switch MessageType(rawValue: frame.type) {
                case .connect:
                    Reply.connected(capacity: 1 << 20, arenaSize: 1 << 20, clientID: 1)
                        .encode(type: .connect, requestID: frame.requestID, into: &writer)
                    guard (try? writer.buffer.withUnsafeBytes({ try connection.send($0, attaching: arena) })) == writer.buffer.count else { return }
                    continue
                case .list where payload.isEmpty:
                    Reply.list([row]).encode(type: .list, requestID: frame.requestID, into: &writer)
                case .list:
                    lock.withLock { refusals += 1 }
                    return  // trailing bytes: malformed to this store
                default:
                    return
                }
                guard (try? writer.buffer.withUnsafeBytes({ try connection.writeAll($0) })) != nil else { return }
            }
        }
    }
}
