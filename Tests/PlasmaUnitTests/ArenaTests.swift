import Foundation
import Glibc
import PlasmaPosix
import SystemPackage
import Testing

/// A fresh directory under /tmp, unique to this process and call.
private func makeTemporaryDirectory() throws -> String {
    let path = "/tmp/plasma-arena-test-\(getpid())-\(UInt32.random(in: 0 ... .max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    return path
}

private func entries(of directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory)
}

private func reservedHugepages() -> Int? {
    let text = try? String(contentsOfFile: "/proc/sys/vm/nr_hugepages", encoding: .utf8)
    return text.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
}

@Suite struct ArenaTests {
    @Test(arguments: [1, 4096, 3 * 4096 + 1, 1 << 20])
    func arenaIsRoundedUpToThePageAndWritableEndToEnd(requested: Int) throws {
        let page = PageSize.current
        let arena = try Arena(size: requested, options: .init(prefault: false))
        #expect(arena.size == (requested + page - 1) / page * page)
        let bytes = UnsafeMutableRawBufferPointer(start: arena.base, count: arena.size)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 31) }
        #expect(bytes.indices.allSatisfy { bytes[$0] == UInt8(truncatingIfNeeded: $0 &* 31) })
        #expect(arena.prefaultDuration == nil)
        #expect(!arena.usesHugepages && arena.hugepageFallback == nil)
    }

    @Test func prefaultRecordsHowLongItTook() throws {
        let arena = try Arena(size: 8 << 20, options: .init(prefault: true))
        let duration = try #require(arena.prefaultDuration)
        #expect(duration > .zero)
        arena.base.storeBytes(of: 0xAB, toByteOffset: arena.size - 1, as: UInt8.self)
    }

    @Test func hugepagesFallBackToNormalPagesWhenNoneAreReserved() throws {
        let arena = try Arena(size: 4 << 20, options: .init(hugepages: true, prefault: true))
        #expect(arena.usesHugepages || arena.hugepageFallback != nil)
        if reservedHugepages() == 0 {
            #expect(!arena.usesHugepages)
            #expect(arena.hugepageFallback != nil)
        }
        arena.base.storeBytes(of: 1, toByteOffset: arena.size - 1, as: UInt8.self)
        #expect(arena.base.load(fromByteOffset: arena.size - 1, as: UInt8.self) == 1)
    }

    @Test func hugepagesInADirectoryThatIsNotHugetlbfsFallBack() throws {
        let directory = try makeTemporaryDirectory()
        defer { rmdir(directory) }
        let arena = try Arena(size: 4096, options: .init(hugepages: true, prefault: false, directory: directory))
        #expect(!arena.usesHugepages)
        #expect(arena.hugepageFallback == .notSupported)
        #expect(arena.size == PageSize.current)
    }

    @Test func directoryBackedArenaLeavesNoFileInTheDirectory() throws {
        let directory = try makeTemporaryDirectory()
        defer { rmdir(directory) }
        do {
            let arena = try Arena(size: 1 << 20, options: .init(prefault: true, directory: directory))
            arena.base.storeBytes(of: 7, toByteOffset: 0, as: UInt8.self)
            #expect(try entries(of: directory).isEmpty)
        }
        #expect(try entries(of: directory).isEmpty)
    }

    @Test func failureNamesTheStepThatFailed() throws {
        let missing = "/tmp/plasma-missing-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let error = #expect(throws: SystemError.self) {
            try Arena(size: 4096, options: .init(directory: missing))
        }
        #expect(error?.errno == .noSuchFileOrDirectory)
        #expect(error?.operation.hasPrefix("mkstemp(arena of 4096 bytes") == true)
    }

    @Test func secondMappingOfTheDescriptorSharesTheBytes() throws {
        let arena = try Arena(size: 64 << 10, options: .init())
        let mapping = try SharedMemoryMapping(descriptor: arena.descriptor, size: arena.size, writable: true, populate: true)
        #expect(mapping.base != arena.base)
        arena.base.storeBytes(of: 0x1122_3344_5566_7788, toByteOffset: 4096, as: UInt64.self)
        #expect(mapping.base.load(fromByteOffset: 4096, as: UInt64.self) == 0x1122_3344_5566_7788)
        mapping.base.storeBytes(of: 0xFE, toByteOffset: arena.size - 1, as: UInt8.self)
        #expect(arena.base.load(fromByteOffset: arena.size - 1, as: UInt8.self) == 0xFE)
    }

    @Test func readOnlyMappingReflectsWritesMadeThroughTheArena() throws {
        let arena = try Arena(size: 4096, options: .init())
        let readOnly = try SharedMemoryMapping(descriptor: arena.descriptor, size: arena.size, writable: false, populate: false)
        #expect(!readOnly.writable)
        #expect(readOnly.base.load(fromByteOffset: 100, as: UInt32.self) == 0)
        arena.base.storeBytes(of: 0xDEAD_BEEF, toByteOffset: 100, as: UInt32.self)
        #expect(readOnly.base.load(fromByteOffset: 100, as: UInt32.self) == 0xDEAD_BEEF)
    }
}
