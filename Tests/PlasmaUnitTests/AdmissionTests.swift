import Foundation
import Glibc
@testable import PlasmaClient
import PlasmaPosix
@testable import PlasmaEngine
@testable import PlasmaStore
import SystemPackage
import Testing

/// A fresh private directory under /tmp, removed with its contents.
private final class ScratchDirectory {
    let path: String

    init(name: String = "plasma-unit-XXXXXX") throws {
        var template = Array("/tmp/\(name)".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SystemError(operation: "mkdtemp", errno: Errno(rawValue: errno))
        }
        path = String(cString: made)
    }

    var entries: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

private func fileStatus(_ path: String) -> stat? {
    var status = stat()
    return lstat(path, &status) == 0 ? status : nil
}

/// Publishing the socket file: it appears with its mode, never replaces anything, leaves no private
/// directory behind.
@Suite struct SocketPublishTests {
    @Test func theSocketAppearsWithItsModeAndAcceptsAndThePrivateDirectoryIsGone() throws {
        let directory = try ScratchDirectory()
        let path = directory.path + "/store.sock"
        let (listener, inode) = try UnixSocket.listenPublished(path: path, mode: 0o640)
        defer { listener.close() }
        let status = try #require(fileStatus(path))
        #expect(status.st_mode & S_IFMT == S_IFSOCK)
        #expect(status.st_mode & 0o7777 == 0o640)
        #expect(UInt64(status.st_ino) == inode)
        #expect(status.st_nlink == 1)
        #expect(directory.entries == ["store.sock"])
        let client = try UnixSocket.connect(path: path)
        defer { client.close() }
        #expect(try listener.accept() != nil)
    }

    @Test func anythingAlreadyAtThePathIsNeverReplaced() throws {
        let directory = try ScratchDirectory()
        let path = directory.path + "/store.sock"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("keep".utf8)))
        let error = #expect(throws: SystemError.self) { try UnixSocket.listenPublished(path: path, mode: 0o600) }
        #expect(error?.errno == .fileExists)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep")
        #expect(directory.entries == ["store.sock"], "no private directory left")
    }

    @Test func aPathNearTheSunPathLimitIsStillBoundThroughProcSelfFD() throws {
        // The private directory's socket (DIR/.plasma-socket-XXXXXX/s) would not fit sun_path, the
        // final path (DIR/s) does.
        let base = try ScratchDirectory()
        let deep = base.path + "/" + String(repeating: "d", count: 104 - base.path.count - 3)
        #expect(mkdir(deep, 0o700) == 0)
        let path = deep + "/s"
        #expect(path.utf8.count == 104)
        let (listener, _) = try UnixSocket.listenPublished(path: path, mode: 0o600)
        defer { listener.close() }
        #expect(fileStatus(path).map { $0.st_mode & 0o7777 } == 0o600)
        let client = try UnixSocket.connect(path: path)
        defer { client.close() }
        #expect(try listener.accept() != nil)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: deep)) == ["s"])
    }

    @Test func aFinalPathLongerThanSunPathFailsWithENAMETOOLONGLeavingNothing() throws {
        let directory = try ScratchDirectory()
        let path = directory.path + "/" + String(repeating: "x", count: 120)
        let error = #expect(throws: SystemError.self) { try UnixSocket.listenPublished(path: path, mode: 0o600) }
        #expect(error?.errno == .fileNameTooLong)
        #expect(directory.entries.isEmpty)
    }

    @Test func theParentDirectoryOfASocketPath() {
        #expect(UnixSocket.parentDirectory(of: "/tmp/plasma.sock") == "/tmp")
        #expect(UnixSocket.parentDirectory(of: "/plasma.sock") == "/")
        #expect(UnixSocket.parentDirectory(of: "plasma.sock") == ".")
        #expect(UnixSocket.parentDirectory(of: "run/plasma.sock") == "run")
    }
}

@Suite struct StoreTrustTests {
    @Test func byDefaultOnlyTheClientsOwnUserAndRootAreTrusted() {
        let trust = StoreTrust.ownUserOrRoot
        #expect(trust.admits(storeUID: 1000, clientUID: 1000))
        #expect(trust.admits(storeUID: 0, clientUID: 1000))
        #expect(!trust.admits(storeUID: 1001, clientUID: 1000))
        #expect(!trust.admits(storeUID: 65534, clientUID: 0))
    }

    @Test func namedUsersAndAnyoneWidenIt() {
        #expect(StoreTrust(users: [1001]).admits(storeUID: 1001, clientUID: 1000))
        #expect(!StoreTrust(users: [1001]).admits(storeUID: 1002, clientUID: 1000))
        #expect(StoreTrust.anyone.admits(storeUID: 1002, clientUID: 1000))
    }

    @Test func theEnvironmentSyntaxIsUIDsSeparatedByCommasOrAny() {
        #expect(StoreTrust.parse("any") == .anyone)
        #expect(StoreTrust.parse("1001") == StoreTrust(users: [1001]))
        #expect(StoreTrust.parse("1001, 1002") == StoreTrust(users: [1001, 1002]))
        for invalid in ["", "nobody", "1001,", "-1", "4294967296", "1001;1002", "ANY"] {
            #expect(StoreTrust.parse(invalid) == nil, "'\(invalid)'")
        }
    }

    @Test func theOwnerCheckAdmitsTheProcessAtTheOtherEndWhenItIsUs() throws {
        let (a, b) = try UnixSocket.pair()
        defer { a.close(); b.close() }
        try Handshake.checkOwner(of: a, at: "pair", trust: .ownUserOrRoot)
        // With no credentials to read (not a socket), the check fails closed.
        let error = #expect(throws: PlasmaClientError.self) {
            try Handshake.checkOwner(of: UnixSocket(rawValue: -1), at: "nowhere", trust: .ownUserOrRoot)
        }
        #expect(error.map { "\($0)".contains("cannot learn who runs the store") } == true)
    }
}

@Suite struct DescriptorBudgetTests {
    @Test func aLimitThatFitsKeepsTheRequestedClients() {
        #expect(DescriptorBudget.clientLimit(requested: 1024, descriptorLimit: 1 << 20) == 1024)
        #expect(DescriptorBudget.clientLimit(requested: 1024, descriptorLimit: 32 + 2 * 1024) == 1024)
    }

    @Test func aShortLimitServesWhatFitsAfterTheReserveAndAtLeastOne() {
        #expect(DescriptorBudget.clientLimit(requested: 1024, descriptorLimit: 1024) == 496)
        #expect(DescriptorBudget.clientLimit(requested: 1024, descriptorLimit: 64) == 16)
        #expect(DescriptorBudget.clientLimit(requested: 1024, descriptorLimit: 20) == 1)
    }

    @Test func raisingTheSoftLimitReachesTheHardOne() throws {
        let raised = try DescriptorLimit.raiseSoftToHard()
        #expect(raised.soft == min(raised.hard, 1 << 20))
        #expect(try DescriptorLimit.current() == raised)
    }
}

@Suite struct AcceptPauseTests {
    @Test func anEpisodeIsAnnouncedOnceAndSummedUpWhenTheBacklogDrains() {
        var pause = AcceptPause()
        #expect(pause.drained(now: 5) == nil, "no episode, nothing to say")
        let started = pause.failed(now: 100)
        #expect(started)
        #expect(pause.isPaused)
        #expect(pause.retryAt == 100 + AcceptPause.retryNanoseconds)
        pause.resumed()
        #expect(!pause.isPaused)
        let startedAgain = pause.failed(now: 200)
        #expect(!startedAgain, "the same episode")
        pause.resumed()
        let summary = pause.drained(now: 1_000)
        #expect(summary?.failedAccepts == 2)
        #expect(summary?.nanoseconds == 900)
        let next = pause.failed(now: 2_000)
        #expect(next, "a new episode")
    }

    @Test func shortagesAreTheErrorsThatFreeingADescriptorOrMemoryCures() {
        for errno in [Errno.tooManyOpenFiles, .tooManyOpenFilesInSystem, .noBufferSpace, .noMemory] {
            #expect(AcceptPause.isShortage(errno))
        }
        #expect(!AcceptPause.isShortage(.badFileDescriptor))
        #expect(!AcceptPause.isShortage(.invalidArgument))
    }
}
