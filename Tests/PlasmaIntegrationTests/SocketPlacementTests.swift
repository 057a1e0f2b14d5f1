import Foundation
import Glibc
import PlasmaClient
import Testing

/// A fresh directory under /tmp for one test, removed with everything in it.
final class TemporaryDirectory {
    let path: String

    init(mode: mode_t = 0o700) throws {
        var template = Array("/tmp/plasma-test-dir-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw Failure("mkdtemp failed: errno \(errno)")
        }
        path = String(cString: made)
        guard chmod(path, mode) == 0 else { throw Failure("chmod \(path) failed: errno \(errno)") }
    }

    /// Names in the directory, sorted; hidden ones included.
    var entries: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

extension IntegrationTests {
    /// Where and how the store's socket file appears.
    @Suite struct SocketPlacementTests {
        @Test func aWorldWritableDirectoryWithoutTheStickyBitIsRefusedAndNothingIsLeftThere() throws {
            let directory = try TemporaryDirectory(mode: 0o777)
            let (status, errors) = try DaemonTests().runToExit(["--memory", "1M", "--socket", directory.path + "/s.sock"])
            #expect(status != 0)
            #expect(errors.contains("refusing to put the socket in \(directory.path)"), "stderr: \(errors)")
            #expect(errors.contains("sticky"))
            #expect(!errors.contains("plasma-store ready"))
            #expect(directory.entries.isEmpty, "left behind: \(directory.entries)")
        }

        @Test func aWorldWritableStickyDirectoryIsAccepted() throws {
            let directory = try TemporaryDirectory(mode: 0o1777)
            let store = try StoreProcess(memory: "1M", arguments: ["--no-prefault"], socketPath: directory.path + "/s.sock")
            #expect(try store.connect().capacity == 1 << 20)
        }

        /// The socket is made in a private directory and linked into place once chmod'ed and chown'ed
        /// (UnixSocket.listenPublished), so the path never names it with other bits. What can be seen
        /// from outside: the bits are right once it is there, and the private directory is gone.
        @Test func theSocketHasItsModeAndGroupWhenItIsThereAndNoPrivateDirectoryIsLeft() throws {
            let directory = try TemporaryDirectory()
            let group = SocketAccessTests.shareableGroup()
            let path = directory.path + "/s.sock"
            let store = try StoreProcess(
                memory: "1M", arguments: ["--no-prefault", "--socket-group", "\(group.gid)", "--socket-mode", "640"],
                socketPath: path)
            var status = stat()
            #expect(lstat(path, &status) == 0)
            #expect(status.st_mode & S_IFMT == S_IFSOCK)
            #expect(status.st_mode & 0o7777 == 0o640)
            #expect(status.st_gid == group.gid)
            #expect(status.st_nlink == 1, "the private name is gone")
            #expect(directory.entries == ["s.sock", "s.sock.log"])
            #expect(try store.connect().capacity == 1 << 20)
            #expect(store.stop() == 0)
            #expect(directory.entries == ["s.sock.log"])
        }
    }
}
