import Foundation
import Glibc
import PlasmaClient
import PlasmaCore
import PlasmaPosix
import Testing

extension IntegrationTests {
    /// The store under a service manager (docs/OPERATIONS.md): `Type=notify` readiness through
    /// `$NOTIFY_SOCKET`, socket activation through `$LISTEN_FDS`, SIGHUP. The manager is played by the
    /// test: a datagram socket it reads, a listening socket it binds and hands over as descriptor 3.
    @Suite struct ServiceManagerTests {
        @Test(arguments: [false, true])
        func readinessAndStoppingAreSentToNotifySocket(abstract: Bool) throws {
            let manager = try NotifyListener(abstract: abstract)
            let store = try StoreProcess(environment: ["NOTIFY_SOCKET": manager.address])
            let ready = try #require(manager.next(), "no datagram from the store; log: \(store.log)")
            #expect(ready.hasPrefix("READY=1\n"), "\(ready)")
            #expect(ready.contains("STATUS=serving 64.0 MiB on \(store.socketPath)\n"), "\(ready)")
            // READY=1 promises an answer: a client that connects now gets one.
            #expect(try store.connect().statistics().capacity == 64 << 20)

            kill(store.process.processIdentifier, SIGTERM)
            let stopping = try #require(manager.next(), "no STOPPING datagram; log: \(store.log)")
            #expect(stopping.hasPrefix("STOPPING=1\n"), "\(stopping)")
            #expect(store.stop() == 0)
        }

        @Test func aNotifySocketNobodyReadsDoesNotStopTheStore() throws {
            let store = try StoreProcess(environment: ["NOTIFY_SOCKET": "/nonexistent-plasma-test/notify"])
            #expect(try store.connect().statistics().capacity == 64 << 20)
            #expect(store.log.contains("cannot notify the service manager"), "\(store.log)")
            #expect(store.stop() == 0)
        }

        @Test func aSocketActivatedStoreServesThePassedSocketAndLeavesItsFile() throws {
            let path = uniqueSocketPath("activated")
            let listener = try UnixSocket.listen(path: path, mode: 0o600)
            defer {
                listener.close()
                unlink(path)
            }
            let store = try ActivatedStore(listener: listener, arguments: ["--memory", "8M"])
            #expect(store.waitForLog("plasma-store ready"), "\(store.log)")
            #expect(store.log.contains("socket \(path)"), "\(store.log)")

            let client = try PlasmaClient(socketPath: path)
            let id = ObjectID.random()
            try client.createAndSeal(id, data: [1, 2, 3])
            let buffer = try #require(try client.get(id))
            #expect(Array(buffer.withUnsafeBytes { Array($0) }) == [1, 2, 3])
            #expect(try client.statistics().capacity == 8 << 20)

            #expect(store.terminate() == 0)
            #expect(store.log.contains("left to the service manager"), "\(store.log)")
            var status = stat()
            #expect(lstat(path, &status) == 0, "the socket file belongs to the manager: it stays")
        }

        @Test func aPassedDescriptorThatIsNotAListeningSocketStopsTheStartWithTheReason() throws {
            let file = try TemporaryFile(Data([1]))
            let descriptor = open(file.path, O_RDONLY | O_CLOEXEC)
            defer { close(descriptor) }
            let store = try ActivatedStore(listener: UnixSocket(rawValue: descriptor), arguments: ["--memory", "8M"])
            #expect(store.wait() != 0)
            #expect(store.log.contains("not a listening Unix stream socket"), "\(store.log)")
        }

        @Test func sighupIsLoggedAndTheStoreKeepsServing() throws {
            let store = try StoreProcess()
            kill(store.process.processIdentifier, SIGHUP)
            #expect(store.waitForLog("received SIGHUP: ignored"), "\(store.log)")
            #expect(try store.connect().statistics().capacity == 64 << 20)
            #expect(store.stop() == 0)
        }
    }
}

/// The service manager's end of `$NOTIFY_SOCKET`: a datagram socket bound at a path, or at an abstract
/// name (`@…`, as systemd itself uses).
private final class NotifyListener {
    let address: String
    private let descriptor: Int32
    private let path: String?

    init(abstract: Bool) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Failure("socket: errno \(errno)") }
        let name = "plasma-test-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes: [UInt8]
        if abstract {
            bytes = [0] + Array(name.utf8)  // no terminating NUL: an abstract name is exactly its bytes
            (self.address, path) = ("@" + name, nil)
        } else {
            let path = "/tmp/\(name).sock"
            bytes = Array(path.utf8) + [0]
            (self.address, self.path) = (path, path)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else { throw Failure("bind \(self.address): errno \(errno)") }
    }

    /// The next datagram as text, or nil if none came within `timeout` seconds.
    func next(timeout: TimeInterval = 20) -> String? {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout * 1000)) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
    }

    deinit {
        close(descriptor)
        if let path { unlink(path) }
    }
}

/// `plasma-store` started as systemd starts a socket-activated service: `listener` as descriptor 3,
/// `LISTEN_FDS=1` and `LISTEN_PID` its own pid (set by a shell that then execs the store, keeping the
/// pid). posix_spawn rather than Foundation's Process, which closes every descriptor above 2.
private final class ActivatedStore {
    let pid: pid_t
    private let logPath = "/tmp/plasma-test-\(getpid())-activated-\(UInt32.random(in: 0...UInt32.max)).log"
    private var exitStatus: Int32?

    init(listener: UnixSocket, arguments: [String]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, listener.rawValue, 3)  // dup2 clears close-on-exec
        posix_spawn_file_actions_addopen(&actions, 2, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        let argv = ["/bin/sh", "-c", #"LISTEN_PID=$$ exec "$@""#, "sh", BuiltProducts.url("plasma-store").path] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["LISTEN_FDS"] = "1"
        let envp = environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let result = withCStrings(argv) { cArgv in
            withCStrings(envp) { cEnvp in posix_spawn(&pid, "/bin/sh", &actions, nil, cArgv, cEnvp) }
        }
        guard result == 0 else { throw Failure("posix_spawn: \(result)") }
        self.pid = pid
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func waitForLog(_ text: String, timeout: TimeInterval = 20) -> Bool {
        _ = eventually(timeout: timeout) { log.contains(text) || hasExited() }
        return log.contains(text)
    }

    /// The exit status, once the store has exited by itself.
    func wait() -> Int32 {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return exitStatus!
    }

    /// SIGTERM, then the exit status.
    func terminate() -> Int32 {
        if exitStatus == nil { kill(pid, SIGTERM) }
        return wait()
    }

    private func hasExited() -> Bool {
        guard exitStatus == nil else { return true }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return false }
        exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return true
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            _ = wait()
        }
        unlink(logPath)
    }
}

/// `strings` as a NULL-terminated C array for the length of `body`.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}
