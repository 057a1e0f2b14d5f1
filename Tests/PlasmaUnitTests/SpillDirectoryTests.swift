import Foundation
import Glibc
import PlasmaTestSupport
@testable import PlasmaPosix
import Testing

/// The `file://` spill store's files (SpillDirectory.swift): a directory only the store can write, files
/// reached only through its descriptor, never through a symlink, and restored only when they are
/// exactly what was written.
@Suite struct SpillDirectoryTests {
    static let key = [UInt8](repeating: 0xA5, count: SpillHeader.keyByteCount)
    static let otherKey = [UInt8](repeating: 0x5A, count: SpillHeader.keyByteCount)

    /// A path under a fresh parent directory (mode 0700) that the test removes.
    final class Scratch {
        let parent = "/tmp/plasma-spill-unit-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        var path: String { parent + "/spill" }
        init() { mkdir(parent, 0o700) }
        deinit { try? FileManager.default.removeItem(atPath: parent) }
        func file(_ name: String) -> String { path + "/" + name }
        func entries() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
    }

    static func body(size: Int, seed: UInt64) -> [UInt8] {
        var random = SeededRandom(seed: seed)
        return (0..<size).map { _ in UInt8.random(in: 0 ... .max, using: &random) }
    }

    func write(_ directory: SpillDirectory, _ name: String, key: [UInt8] = key, _ body: [UInt8], dataSize: Int) throws(SpillFileError) {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: body.count, alignment: 8)
        defer { copy.deallocate() }
        copy.copyBytes(from: body)
        try directory.write(name, key: key, dataSize: dataSize, body: UnsafeRawBufferPointer(copy))
    }

    func read(_ directory: SpillDirectory, _ name: String, key: [UInt8] = key, size: Int, dataSize: Int) -> Result<[UInt8], SpillFileError> {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        do throws(SpillFileError) {
            try directory.read(name, key: key, dataSize: dataSize, into: buffer)
            return .success(Array(buffer))
        } catch {
            return .failure(error)
        }
    }

    /// A file elsewhere the store must never write or read through a planted link.
    func victim(_ scratch: Scratch, contents: String = "secret: not for the store") -> String {
        let path = scratch.parent + "/victim"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o600]))
        return path
    }

    func contents(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map(Array.init) }

    func isRefused(_ result: Result<[UInt8], SpillFileError>) -> Bool {
        if case .failure(.refused) = result { return true }
        return false
    }

    func damage(_ result: Result<[UInt8], SpillFileError>) -> SpillFileError.Damage? {
        if case .failure(.damaged(_, let damage)) = result { return damage }
        return nil
    }

    // MARK: The checksum

    @Test func xxh64MatchesThePublishedVectors() {
        func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 { bytes.withUnsafeBytes { XXH64.hash($0, seed: seed) } }
        #expect(hash([]) == 0xEF46_DB37_51D8_E999)
        #expect(hash(Array("a".utf8)) == 0xD24E_C4F1_A98C_6E5B)
        #expect(hash(Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
        #expect(hash(Array("Nobody inspects the spammish repetition".utf8)) == 0xFBCE_A83C_8A37_8BF1)
        #expect(hash(Array(0..<100)) == 0x6AC1_E580_3216_6597)
        // Past the 32-byte stripes, with every tail length (values from the reference implementation).
        let pattern = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        #expect(hash(Array(pattern.prefix(296))) == 0x512A_4532_4A84_841F)
        #expect(hash(Array(pattern.prefix(999))) == 0x83DB_62D8_99C1_F849)
        #expect(hash(pattern, seed: 12345) == 0xCBD4_2AE4_14E7_1A03)
    }

    // MARK: Writing and reading back

    @Test(arguments: [(0, 0), (1, 0), (0, 1), (300_000, 17), (65_536, 0)])
    func whatIsWrittenReadsBackExactly(dataSize: Int, metadataSize: Int) throws {
        let scratch = Scratch()
        let directory = try SpillDirectory(path: scratch.path)
        let body = Self.body(size: dataSize + metadataSize, seed: UInt64(dataSize * 7 + metadataSize))
        try write(directory, "a.plasma-spill", body, dataSize: dataSize)
        #expect(try read(directory, "a.plasma-spill", size: body.count, dataSize: dataSize).get() == body)
        #expect(scratch.entries() == ["a.plasma-spill"], "no temporary or probe file left")
        let status = try FileManager.default.attributesOfItem(atPath: scratch.file("a.plasma-spill"))
        #expect(status[.posixPermissions] as? Int == 0o600)
        #expect(status[.size] as? Int == SpillHeader.byteCount + body.count)
        directory.remove("a.plasma-spill")
        #expect(scratch.entries().isEmpty)
    }

    @Test func aMissingDirectoryIsCreatedPrivateWithItsParents() throws {
        let scratch = Scratch()
        let path = scratch.path + "/deeper/still"
        _ = try SpillDirectory(path: path + "/")
        for created in [scratch.path, scratch.path + "/deeper", path] {
            let status = try FileManager.default.attributesOfItem(atPath: created)
            #expect(status[.posixPermissions] as? Int == 0o700, "\(created)")
            #expect(status[.type] as? FileAttributeType == .typeDirectory)
        }
    }

    @Test func anExistingFileAtTheNameIsNeverReplaced() throws {
        let scratch = Scratch()
        let directory = try SpillDirectory(path: scratch.path)
        try write(directory, "a", [1, 2, 3], dataSize: 3)
        #expect(throws: SpillFileError.self) { try write(directory, "a", [4, 5], dataSize: 2) }
        #expect(try read(directory, "a", size: 3, dataSize: 3).get() == [1, 2, 3])
        #expect(scratch.entries() == ["a"], "the refused write left no temporary file")
    }

    // MARK: Planted symlinks and other entries

    @Test func aSymlinkPlantedAtTheNameIsNotWrittenThroughNorReadThrough() throws {
        let scratch = Scratch()
        let directory = try SpillDirectory(path: scratch.path)
        let target = victim(scratch)
        let before = contents(target)
        symlink(target, scratch.file("a"))
        #expect(throws: SpillFileError.self) { try write(directory, "a", [9, 9, 9], dataSize: 3) }
        #expect(contents(target) == before, "the link's target is untouched")
        #expect(isRefused(read(directory, "a", size: 1, dataSize: 0)))

        // Even a link to a perfect spill file of this object is refused.
        try write(directory, "good", [7, 7], dataSize: 1)
        symlink(scratch.file("good"), scratch.file("linked"))
        #expect(isRefused(read(directory, "linked", size: 2, dataSize: 1)))
        directory.remove("a")
        #expect(contents(target) == before, "removing the name removes the link, not its target")
        #expect(!scratch.entries().contains("a"))
    }

    @Test func aSymlinkPlantedAtTheTemporaryNameIsRefusedAndItsTargetUntouched() throws {
        let scratch = Scratch()
        let directory = try SpillDirectory(path: scratch.path)
        let target = victim(scratch)
        let before = contents(target)
        symlink(target, scratch.file(SpillDirectory.temporaryName(for: "a")))
        do {
            try write(directory, "a", [9, 9, 9], dataSize: 3)
            Issue.record("wrote through a planted link")
        } catch {
            guard case .refused = error else { Issue.record("\(error)"); return }
        }
        #expect(contents(target) == before)
        #expect(!scratch.entries().contains("a"), "nothing was renamed into place")
    }

    @Test(.timeLimit(.minutes(1)))
    func aFIFOADirectoryOrAHardLinkAtTheNameIsRefusedWithoutBlocking() throws {
        let scratch = Scratch()
        let directory = try SpillDirectory(path: scratch.path)
        #expect(mkfifo(scratch.file("fifo"), 0o600) == 0)
        #expect(isRefused(read(directory, "fifo", size: 1, dataSize: 1)), "opening a FIFO without a writer must not block")
        #expect(mkdir(scratch.file("dir"), 0o700) == 0)
        #expect(isRefused(read(directory, "dir", size: 1, dataSize: 1)))
        try write(directory, "a", [1], dataSize: 1)
        #expect(link(scratch.file("a"), scratch.parent + "/elsewhere") == 0)
        #expect(isRefused(read(directory, "a", size: 1, dataSize: 1)), "a second link: not a file only the store knows")
    }

    // MARK: Damaged files

    /// Writes a good 100-byte file, lets `change` alter it on disk, and reads it back as the store would.
    func readAfter(_ change: (_ path: String, _ bytes: inout [UInt8]) -> Void) throws -> Result<[UInt8], SpillFileError> {
        let scratch = Scratch()
        let directory = try SpillDirectory(path: scratch.path)
        try write(directory, "a", Self.body(size: 100, seed: 1), dataSize: 90)
        var bytes = try #require(contents(scratch.file("a")))
        change(scratch.file("a"), &bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: scratch.file("a")))
        return read(directory, "a", size: 100, dataSize: 90)
    }

    @Test func aFileOfTheWrongSizeIsDamaged() throws {
        #expect(try damage(readAfter { $1.append(0) }) == .size(expected: 164, actual: 165))
        #expect(try damage(readAfter { $1.removeLast() }) == .size(expected: 164, actual: 163))
        #expect(try damage(readAfter { $1 = [] }) == .size(expected: 164, actual: 0))
    }

    @Test func aBadHeaderIsDamaged() throws {
        guard case .header(let magic) = try damage(readAfter { $1[0] ^= 1 }) else { Issue.record("bad magic accepted"); return }
        #expect(magic.contains("magic"))
        guard case .header(let version) = try damage(readAfter { $1[8] = 2 }) else { Issue.record("version 2 accepted"); return }
        #expect(version.contains("version"))
        guard case .header(let id) = try damage(readAfter { $1[16] ^= 0xFF }) else { Issue.record("another id accepted"); return }
        #expect(id.contains("another object"))
        // Same total, other split: 91 bytes of data and 9 of metadata.
        guard case .header(let sizes) = try damage(readAfter { $1[40] = 91; $1[48] = 9 }) else { Issue.record("other sizes accepted"); return }
        #expect(sizes.contains("sizes"))
    }

    @Test func aChangedByteInTheBodyOrTheChecksumIsDamaged() throws {
        var random = SeededRandom(seed: 13)
        for _ in 0..<8 {
            let offset = SpillHeader.byteCount + Int.random(in: 0..<100, using: &random)
            guard case .checksum = try damage(readAfter { $1[offset] ^= 0x10 }) else { Issue.record("byte \(offset) changed unnoticed"); return }
        }
        guard case .checksum = try damage(readAfter { $1[56] ^= 1 }) else { Issue.record("checksum changed unnoticed"); return }
    }

    @Test func anotherObjectsFileUnderThisName() throws {
        let scratch = Scratch()
        let directory = try SpillDirectory(path: scratch.path)
        try write(directory, "b", key: Self.otherKey, [1, 2, 3], dataSize: 3)
        #expect(rename(scratch.file("b"), scratch.file("a")) == 0)
        guard case .header(let reason) = damage(read(directory, "a", size: 3, dataSize: 3)) else { Issue.record("restored another id's bytes"); return }
        #expect(reason.contains("another object"))
    }

    // MARK: The directory itself

    func refusal(_ path: String) -> SpillDirectoryError? {
        do throws(SpillDirectoryError) {
            _ = try SpillDirectory(path: path)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [0o770, 0o720, 0o702, 0o777, 0o1777])
    func aDirectoryOthersCanWriteIsRefused(mode: Int) throws {
        let scratch = Scratch()
        #expect(mkdir(scratch.path, 0o700) == 0 && chmod(scratch.path, mode_t(mode)) == 0)
        let refused = refusal(scratch.path)
        guard case .unsafe(let path, let reason) = refused else { Issue.record("mode \(String(mode, radix: 8)): \(String(describing: refused))"); return }
        #expect(path == scratch.path && reason.contains("writable by group or others"))
    }

    @Test(.enabled(if: geteuid() == 0, "only root can give a directory to another uid"))
    func aDirectoryOfAnotherUserIsRefused() throws {
        let scratch = Scratch()
        #expect(mkdir(scratch.path, 0o700) == 0 && chown(scratch.path, 65534, 65534) == 0)
        let refused = refusal(scratch.path)
        guard case .unsafe(_, let reason) = refused else { Issue.record("uid 65534's directory: \(String(describing: refused))"); return }
        #expect(reason.contains("uid 65534"))
    }

    @Test func aSymlinkToADirectoryIsRefused() throws {
        let scratch = Scratch()
        #expect(mkdir(scratch.parent + "/real", 0o700) == 0 && symlink(scratch.parent + "/real", scratch.path) == 0)
        let refused = refusal(scratch.path)
        guard case .unsafe(_, let reason) = refused else { Issue.record("a symlink: \(String(describing: refused))"); return }
        #expect(reason.contains("symbolic link"))
    }

    @Test func aFileIsNotADirectory() throws {
        let scratch = Scratch()
        #expect(FileManager.default.createFile(atPath: scratch.path, contents: Data()))
        let refused = refusal(scratch.path)
        guard case .system(_, let error) = refused else { Issue.record("a file: \(String(describing: refused))"); return }
        #expect(error.errno == .notDirectory)
    }

    @Test(.enabled(if: geteuid() != 0, "root writes a mode-500 directory anyway; the daemon test covers it as another uid"))
    func aDirectoryTheStoreCannotWriteIsRefused() throws {
        let scratch = Scratch()
        #expect(mkdir(scratch.path, 0o500) == 0)
        let refused = refusal(scratch.path)
        guard case .notWritable(_, let error) = refused else { Issue.record("a read-only directory: \(String(describing: refused))"); return }
        #expect(error.errno == .permissionDenied)
    }
}
