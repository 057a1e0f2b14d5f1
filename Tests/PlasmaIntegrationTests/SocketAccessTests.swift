import Foundation
import Glibc
import PlasmaClient
import PlasmaCore
import Testing

extension IntegrationTests {
    /// Who may connect (`--socket-group`) and who did (peer credentials in the log).
    @Suite struct SocketAccessTests {
        /// A group this process may give a file to: not its own when it can (a supplementary group, or
        /// any group as root), so that the test sees a chown happen; else its own primary group.
        static func shareableGroup() -> (name: String, gid: gid_t) {
            let own = getegid()
            var candidates: [gid_t] = []
            let count = getgroups(0, nil)
            var supplementary = [gid_t](repeating: 0, count: Int(max(count, 0)))
            if count > 0 { candidates += supplementary.prefix(Int(getgroups(count, &supplementary))).filter { $0 != own } }
            if geteuid() == 0 {
                setgrent()
                while let entry = getgrent() {
                    if entry.pointee.gr_gid != own { candidates.append(entry.pointee.gr_gid); break }
                }
                endgrent()
            }
            for gid in candidates + [own] {
                if let entry = getgrgid(gid) { return (String(cString: entry.pointee.gr_name), gid) }
            }
            return ("\(own)", own)
        }

        func socketStatus(_ path: String) -> stat? {
            var status = stat()
            return lstat(path, &status) == 0 ? status : nil
        }

        @Test func socketGroupGivesTheSocketToTheGroupReadWrite() throws {
            let group = Self.shareableGroup()
            let store = try StoreProcess(arguments: ["--socket-group", group.name])
            let status = try #require(socketStatus(store.socketPath))
            #expect(status.st_gid == group.gid, "group \(group.name)")
            #expect(status.st_mode & 0o777 == 0o660)
            #expect(try store.connect().capacity > 0)
        }

        @Test func socketModeStillDecidesTheBitsAndAGidWorksAsAGroup() throws {
            let group = Self.shareableGroup()
            let store = try StoreProcess(arguments: ["--socket-group", "\(group.gid)", "--socket-mode", "640"])
            let status = try #require(socketStatus(store.socketPath))
            #expect(status.st_gid == group.gid)
            #expect(status.st_mode & 0o777 == 0o640)
        }

        @Test func anUnknownGroupStopsTheStoreBeforeItServesAndNamesTheGroup() throws {
            let path = uniqueSocketPath()
            let process = Process()
            let errors = Pipe()
            process.executableURL = BuiltProducts.url("plasma-store")
            process.arguments = ["--memory", "1M", "--socket", path, "--socket-group", "no-such-group-7f3a"]
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus != 0)
            #expect(output.contains("no group named 'no-such-group-7f3a'"), "stderr: \(output)")
            #expect(!output.contains("plasma-store ready"))
            #expect(access(path, F_OK) != 0, "no socket file is left behind")
        }

        @Test func eachConnectionIsLoggedWithThePeersPidUidAndGid() throws {
            let store = try StoreProcess(arguments: ["--log-level", "debug"])  // connects are debug lines
            let client = try store.connect()
            #expect(store.waitForLog("(pid \(getpid()), uid \(geteuid()), gid \(getegid()))"),
                    "log: \(store.log)")
            #expect(store.log.contains("connected client "))
            withExtendedLifetime(client) {}
        }
    }
}
