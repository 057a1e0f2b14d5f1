import Foundation
import Glibc
import PlasmaClient
import PlasmaCore
import Testing

extension IntegrationTests {
    /// The `file://` external store against a hostile directory: the daemon checks the directory before
    /// it serves, never follows what is planted in it, restores only the file it wrote, and logs and
    /// counts every failure (docs/SECURITY.md, "Threats and defences").
    @Suite struct SpillStoreTests {
        /// A spill directory path under a fresh private parent, both removed afterwards.
        final class SpillPath {
            let parent = "/tmp/plasma-spill-it-\(getpid())-\(UInt32.random(in: 0 ... .max))"
            var directory: String { parent + "/spill" }
            var url: String { "file://" + directory }
            init() { mkdir(parent, 0o700) }
            deinit { try? FileManager.default.removeItem(atPath: parent) }
            func file(_ id: ObjectID) -> String { "\(directory)/\(id.hex).plasma-spill" }
            /// A file outside the directory that a planted link points at.
            func victim() -> (path: String, contents: Data) {
                let path = parent + "/victim"
                let contents = Data("secret of the store's user, not to be read or overwritten\n".utf8)
                _ = FileManager.default.createFile(atPath: path, contents: contents, attributes: [.posixPermissions: 0o600])
                return (path, contents)
            }
        }

        /// Runs `plasma-store` (as `user`, when given: the test runs as root) until it exits.
        func startExpectingRefusal(_ spill: SpillPath, as user: uid_t? = nil) throws -> (status: Int32, output: String) {
            let socket = uniqueSocketPath()
            let process = Process()
            let errors = Pipe()
            let store = ["--memory", "1M", "--socket", socket, "--external-store", spill.url]
            if let user {
                // A copy beside the directory: the build folder may be closed to `user` (e.g. under /root).
                let binary = spill.parent + "/plasma-store"
                try FileManager.default.copyItem(atPath: BuiltProducts.url("plasma-store").path, toPath: binary)
                process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
                process.arguments = ["--reuid", "\(user)", "--regid", "\(user)", "--clear-groups", binary] + store
            } else {
                process.executableURL = BuiltProducts.url("plasma-store")
                process.arguments = store
            }
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(!output.contains("plasma-store ready"), "\(output)")
            #expect(access(socket, F_OK) != 0, "refused before the socket was bound")
            return (process.terminationStatus, output)
        }

        func flipByte(in path: String, at offset: UInt64) throws {
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seek(toOffset: offset)
            let byte = try #require(try handle.read(upToCount: 1))
            try handle.seek(toOffset: offset)
            try handle.write(contentsOf: [byte[0] ^ 0x40])
        }

        func occurrences(of text: String, in log: String) -> Int { log.components(separatedBy: text).count - 1 }

        // MARK: Refused at start

        @Test func aSpillDirectoryOthersCanWriteStopsTheStoreAndIsNamed() throws {
            let spill = SpillPath()
            #expect(mkdir(spill.directory, 0o700) == 0 && chmod(spill.directory, 0o1777) == 0)
            let (status, output) = try startExpectingRefusal(spill)
            #expect(status == 1)
            #expect(output.contains("spill directory \(spill.directory) is writable by group or others (mode 1777)"), "\(output)")
        }

        @Test(.enabled(if: geteuid() == 0, "only root can give a directory to another uid"))
        func aSpillDirectoryOfAnotherUserStopsTheStore() throws {
            let spill = SpillPath()
            #expect(mkdir(spill.directory, 0o700) == 0 && chown(spill.directory, 65534, 65534) == 0)
            let (status, output) = try startExpectingRefusal(spill)
            #expect(status == 1)
            #expect(output.contains("spill directory \(spill.directory) belongs to uid 65534, not to the store's uid 0"), "\(output)")
        }

        @Test func aSpillDirectoryTheStoreCannotWriteStopsTheStore() throws {
            let spill = SpillPath()
            #expect(mkdir(spill.directory, 0o500) == 0)
            // Root writes a mode-500 directory anyway: then the store runs as uid 65534, who owns it.
            let user: uid_t? = geteuid() == 0 ? 65534 : nil
            if let user {
                #expect(chmod(spill.parent, 0o755) == 0 && chown(spill.directory, user, user) == 0)
            }
            let (status, output) = try startExpectingRefusal(spill, as: user)
            #expect(status == 1)
            #expect(output.contains("spill directory \(spill.directory) is not writable: openat(.plasma-spill-probe."), "\(output)")
            #expect(output.contains("Permission denied (EACCES)"), "\(output)")
        }

        // MARK: Spilling

        @Test func theStoreMakesItsDirectoryPrivateAndEachFileCarriesItsHeader() throws {
            let spill = SpillPath()
            let store = try StoreProcess(memory: "1M", arguments: ["--external-store", spill.url])
            let status = try FileManager.default.attributesOfItem(atPath: spill.directory)
            #expect(status[.posixPermissions] as? Int == 0o700)
            let client = try store.connect()
            let ids = (0..<4).map { _ in ObjectID.random() }
            for (index, id) in ids.enumerated() {
                try client.createAndSeal(id, data: pattern(size: 100_000 + index, seed: index), metadata: [UInt8(index), 9])
            }
            #expect(try client.evict(1 << 20).objects == 4)
            #expect(try FileManager.default.contentsOfDirectory(atPath: spill.directory).count == 4, "no temporary files left")
            for (index, id) in ids.enumerated() {
                let bytes = try #require(FileManager.default.contents(atPath: spill.file(id)))
                #expect(bytes.count == 64 + 100_000 + index + 2)
                #expect(bytes.prefix(8) == Data("PLSPILL\0".utf8))
                #expect(Array(bytes[16..<36]) == id.bytes)
            }
            for (index, id) in ids.enumerated() {
                let buffer = try #require(try client.get(id, timeout: .no))
                #expect(checksum(buffer.copyBytes()) == checksum(pattern(size: 100_000 + index, seed: index)))
                #expect(buffer.copyMetadata() == [UInt8(index), 9])
                try buffer.release()
            }
            let statistics = try client.statistics()
            #expect(statistics.restoredObjects == 4 && statistics.spillFailures == 0 && statistics.restoreFailures == 0)
            #expect(store.stop() == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: spill.directory).isEmpty)
        }

        /// Spills are written by the store's I/O thread, and a create waits for the spill that makes its
        /// room: a client filling the store, and another reading its own (pinned) object between those
        /// creates, see every byte, and no spill fails or is lost.
        @Test func spillsWrittenInTheBackgroundLoseNothingAndLeaveOtherClientsObjectsAlone() throws {
            let spill = SpillPath()
            let store = try StoreProcess(memory: "1M", arguments: ["--external-store", spill.url])
            let writer = try store.connect()
            let reader = try store.connect()
            let kept = ObjectID.random()
            try reader.createAndSeal(kept, data: pattern(size: 50_000, seed: 99))
            let held = try #require(try reader.get(kept, timeout: .no))  // referenced: never spilled
            let ids = (0..<40).map { _ in ObjectID.random() }
            for (index, id) in ids.enumerated() {
                try writer.createAndSeal(id, data: pattern(size: 100_000, seed: index))
                let buffer = try #require(try reader.get(kept, timeout: .no))
                #expect(checksum(buffer.copyBytes()) == checksum(pattern(size: 50_000, seed: 99)))
                try buffer.release()
            }
            let statistics = try writer.statistics()
            #expect(statistics.spillFailures == 0 && statistics.spilledObjects >= 30)
            #expect(statistics.sealedObjects + statistics.spilledObjects == 41)
            for (index, id) in ids.enumerated() {
                // Half restored on the loop (a get that won't wait), half read by the I/O thread while the
                // get waits for it as for a seal.
                let buffer = try #require(try writer.get(id, timeout: index % 2 == 0 ? .no : .forever))
                #expect(checksum(buffer.copyBytes()) == checksum(pattern(size: 100_000, seed: index)))
                try buffer.release()
            }
            try held.release()
            #expect(try writer.statistics().restoreFailures == 0)
            #expect(store.stop() == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: spill.directory).isEmpty, "files removed at exit")
        }

        /// The attack of issue 13: plant a link where the store will write an object's file, then make it
        /// spill that object.
        @Test func aLinkPlantedAtASpillFilesNameOrItsTemporaryNameIsNotWrittenThrough() throws {
            let spill = SpillPath()
            let victim = spill.victim()
            let store = try StoreProcess(memory: "1M", arguments: ["--external-store", spill.url])
            let client = try store.connect()
            let (atName, atTemporary, innocent) = (ObjectID.random(), ObjectID.random(), ObjectID.random())
            #expect(symlink(victim.path, spill.file(atName)) == 0)
            let temporary = "\(spill.directory)/.\(atTemporary.hex).plasma-spill.\(store.process.processIdentifier).tmp"
            #expect(symlink(victim.path, temporary) == 0)
            for id in [atName, atTemporary, innocent] { try client.createAndSeal(id, data: pattern(size: 1000, seed: 1)) }
            #expect(try client.evict(1 << 20).objects == 3)

            #expect(FileManager.default.contents(atPath: victim.path) == victim.contents, "the link's target is untouched")
            let statistics = try client.statistics()
            #expect(statistics.spillFailures == 2 && statistics.spilledObjects == 1)
            #expect(try !client.contains(atName) && !client.contains(atTemporary), "dropped, as eviction without a spill store")
            #expect(try client.get(innocent, timeout: .no) != nil)
            #expect(store.waitForLog("spilling object \(atName.hex) to \(spill.directory) failed, so it is dropped"), "\(store.log)")
            #expect(store.log.contains("spilling object \(atTemporary.hex) to \(spill.directory) failed"))
            #expect(store.log.contains("refused"))
        }

        // MARK: Restoring

        @Test func aDamagedOrSwappedSpillFileIsReportedCountedAndNeverReturned() throws {
            let spill = SpillPath()
            let victim = spill.victim()
            let store = try StoreProcess(memory: "1M", arguments: ["--external-store", spill.url])
            let client = try store.connect()
            let (damaged, swapped, intact) = (ObjectID.random(), ObjectID.random(), ObjectID.random())
            for (index, id) in [damaged, swapped, intact].enumerated() {
                try client.createAndSeal(id, data: pattern(size: 50_000, seed: index))
            }
            #expect(try client.evict(1 << 20).objects == 3)
            try flipByte(in: spill.file(damaged), at: 64 + 12_345)
            // The swap of issue 13: a spill file replaced by a link to a secret.
            try FileManager.default.removeItem(atPath: spill.file(swapped))
            #expect(symlink(victim.path, spill.file(swapped)) == 0)
            let before = try client.statistics()

            #expect(try client.get(damaged, timeout: .milliseconds(300)) == nil, "a damaged file is not restored (read in the background)")
            #expect(try client.get(swapped, timeout: .no) == nil, "a link is not followed")
            let buffer = try #require(try client.get(intact, timeout: .no))
            #expect(checksum(buffer.copyBytes()) == checksum(pattern(size: 50_000, seed: 2)))
            try buffer.release()

            // The damaged file's read ends in the background: wait for it on state, not for time.
            #expect(try eventually { try client.statistics().restoreFailures == before.restoreFailures + 2 })
            let after = try client.statistics()
            #expect(after.restoreFailures == 2 && after.restoredObjects == 1)
            #expect(after.deletedObjects == before.deletedObjects + 2, "dropped from the books as deleted")
            #expect(after.spilledObjects == 0)
            #expect(try !client.contains(damaged) && !client.contains(swapped))
            #expect(try client.list().map(\.id) == [intact])
            #expect(store.waitForLog("restoring object \(damaged.hex) from \(spill.directory) failed, so it is deleted: \(damaged.hex).plasma-spill is damaged: checksum"), "\(store.log)")
            #expect(store.log.contains("restoring object \(swapped.hex) from \(spill.directory) failed, so it is deleted: \(swapped.hex).plasma-spill: a symbolic link; refused"))
            let line = store.log.split(separator: "\n").first { $0.contains("restoring object \(damaged.hex)") }
            #expect(line?.contains(" warning ") == true, "logged at warning level: \(line ?? "")")
            #expect(FileManager.default.contents(atPath: victim.path) == victim.contents)

            let json = try PlasmaRun(["stats", "--json"], socket: store.socketPath).finish()
            let groups = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: [String: Any]])
            let fields = try #require(groups["counters"])
            #expect((fields["restore_failures"] as? NSNumber)?.intValue == 2)
            #expect((fields["spill_failures"] as? NSNumber)?.intValue == 0)
        }

        @Test func failuresPastTheBurstAreCountedNotLoggedAndSummedUpAtTheEnd() throws {
            let spill = SpillPath()
            let store = try StoreProcess(memory: "1M", arguments: ["--external-store", spill.url])
            let client = try store.connect()
            let ids = (0..<15).map { _ in ObjectID.random() }
            for id in ids {  // something at every name: each spill fails
                _ = FileManager.default.createFile(atPath: spill.file(id), contents: Data("planted".utf8))
                try client.createAndSeal(id, data: [1, 2, 3])
            }
            #expect(try client.evict(1 << 20).objects == 15)
            #expect(try client.statistics().spillFailures == 15)
            #expect(store.stop() == 0)
            let log = store.log
            #expect(occurrences(of: "spilling object ", in: log) == 10, "\(log)")
            #expect(log.contains("5 more spill or restore failures were not logged"), "\(log)")
        }
    }
}
