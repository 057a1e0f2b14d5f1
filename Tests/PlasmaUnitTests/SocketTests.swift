import Foundation
import Glibc
import PlasmaPosix
import SystemPackage
import Testing

/// A socket path unique to this process and call; the caller unlinks it.
private func uniqueSocketPath() -> String {
    "/tmp/plasma-socket-test-\(getpid())-\(UInt32.random(in: 0 ... .max)).sock"
}

/// The calling thread's kernel id, from /proc/thread-self ("PID/task/TID").
private func currentThreadID() -> String {
    let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
    return String(link.split(separator: "/").last ?? "")
}

/// Whether thread `threadID` of this process sleeps in the kernel: state S in its stat line.
private func isAsleep(threadID: String) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/self/task/\(threadID)/stat", encoding: .utf8),
          let nameEnd = stat.lastIndex(of: ")"), stat.distance(from: nameEnd, to: stat.endIndex) > 2
    else { return false }
    return stat[stat.index(nameEnd, offsetBy: 2)] == "S"
}

private extension UnixSocket {
    func writeAll(_ text: String) throws {
        try Array(text.utf8).withUnsafeBytes { try writeAll($0) }
    }

    func readString(count: Int) throws -> String? {
        var bytes = [UInt8](repeating: 0, count: count)
        let complete = try bytes.withUnsafeMutableBytes { try readExactly(into: $0) }
        return complete ? String(decoding: bytes, as: UTF8.self) : nil
    }
}

@Suite struct SocketTests {
    @Test func listenConnectAcceptRoundTripsBytes() throws {
        let path = uniqueSocketPath()
        let listener = try UnixSocket.listen(path: path, mode: 0o600)
        defer { listener.close(); unlink(path) }
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)

        let client = try UnixSocket.connect(path: path)
        defer { client.close() }
        let server = try #require(try listener.accept())
        defer { server.close() }
        #expect(try listener.accept() == nil)

        try client.writeAll("ping")
        #expect(try server.readString(count: 4) == "ping")
        try server.writeAll("pong!")
        #expect(try client.readString(count: 5) == "pong!")
    }

    @Test func listenDoesNotReplaceAnExistingPath() throws {
        let path = uniqueSocketPath()
        let first = try UnixSocket.listen(path: path, mode: 0o600)
        defer { first.close(); unlink(path) }
        let error = #expect(throws: SystemError.self) { try UnixSocket.listen(path: path, mode: 0o600) }
        #expect(error?.errno == .addressInUse)
        #expect(error?.description == "bind(\(path)) failed: Address already in use (EADDRINUSE)")
    }

    @Test func pathLongerThanSunPathFailsWithENAMETOOLONG() {
        let path = "/tmp/" + String(repeating: "x", count: 200)
        let error = #expect(throws: SystemError.self) { try UnixSocket.listen(path: path, mode: 0o600) }
        #expect(error?.errno == .fileNameTooLong)
    }

    @Test func attachedDescriptorArrivesAndMapsTheSameMemory() throws {
        let arena = try Arena(size: 4096, options: .init())
        let (a, b) = try UnixSocket.pair()
        defer { a.close(); b.close() }
        let header: [UInt8] = [1, 2, 3]
        #expect(try header.withUnsafeBytes { try a.send($0, attaching: arena.descriptor) } == 3)

        var received = [UInt8](repeating: 0, count: 16)
        var descriptors: [Int32] = [99]
        let count = try received.withUnsafeMutableBytes { try b.receive(into: $0, descriptors: &descriptors) }
        #expect(count == 3)
        #expect(Array(received.prefix(3)) == header)
        #expect(descriptors.count == 2 && descriptors[0] == 99) // appended, not replaced
        let fd = descriptors[1]
        defer { close(fd) }
        #expect(fd != arena.descriptor)
        #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0)

        let mapping = try SharedMemoryMapping(descriptor: fd, size: arena.size, writable: true, populate: false)
        arena.base.storeBytes(of: 0x5A5A, toByteOffset: 8, as: UInt16.self)
        #expect(mapping.base.load(fromByteOffset: 8, as: UInt16.self) == 0x5A5A)
        mapping.base.storeBytes(of: 0x42, toByteOffset: 4095, as: UInt8.self)
        #expect(arena.base.load(fromByteOffset: 4095, as: UInt8.self) == 0x42)
    }

    @Test func arrowFlingCarriesOneDescriptorOnOneByte() throws {
        let arena = try Arena(size: 4096, options: .init())
        arena.base.storeBytes(of: 0x77, toByteOffset: 0, as: UInt8.self)
        let (a, b) = try UnixSocket.pair()
        defer { a.close(); b.close() }
        #expect(try a.sendArrowDescriptor(arena.descriptor))
        let fd = try #require(try b.receiveArrowDescriptor())
        defer { close(fd) }
        let mapping = try SharedMemoryMapping(descriptor: fd, size: arena.size, writable: false, populate: false)
        #expect(mapping.base.load(fromByteOffset: 0, as: UInt8.self) == 0x77)

        try b.setNonBlocking(true)
        var rest = [UInt8](repeating: 0, count: 4)
        #expect(try rest.withUnsafeMutableBytes { try b.read(into: $0) } == nil)
        #expect(try b.receiveArrowDescriptor() == nil)
    }

    @Test func peerCredentialsAreOurOwnProcess() throws {
        let (a, b) = try UnixSocket.pair()
        defer { a.close(); b.close() }
        #expect(try a.peerCredentials() == PeerCredentials(pid: getpid(), uid: getuid(), gid: getgid()))
    }

    @Test func readIsNilWhenEmptyAndZeroAfterThePeerCloses() throws {
        let (a, b) = try UnixSocket.pair()
        defer { b.close() }
        try b.setNonBlocking(true)
        var buffer = [UInt8](repeating: 0, count: 8)
        #expect(try buffer.withUnsafeMutableBytes { try b.read(into: $0) } == nil)
        a.close()
        #expect(try buffer.withUnsafeMutableBytes { try b.read(into: $0) } == 0)
    }

    @Test func readExactlyIsFalseAtEOFAndECONNRESETPartWay() throws {
        let (a, b) = try UnixSocket.pair()
        defer { b.close() }
        try a.writeAll("ab")
        a.close()
        let error = #expect(throws: SystemError.self) { try b.readString(count: 4) }
        #expect(error?.errno == .connectionReset)
        #expect(try b.readString(count: 4) == nil)
    }

    @Test func epollReportsReadabilityAndPeerHangup() throws {
        let epoll = try Epoll()
        let (a, b) = try UnixSocket.pair()
        defer { b.close() }
        try epoll.add(b.rawValue, interest: .readable)
        var events: [Epoll.Event] = []
        try epoll.wait(timeoutMilliseconds: 0, into: &events)
        #expect(events.isEmpty)

        try a.writeAll("x")
        try epoll.wait(timeoutMilliseconds: 1000, into: &events)
        #expect(events == [Epoll.Event(fd: b.rawValue, readable: true, writable: false, hangup: false)])

        try epoll.modify(b.rawValue, interest: [.readable, .writable])
        a.close()
        try epoll.wait(timeoutMilliseconds: 1000, into: &events)
        #expect(events.count == 1 && events[0].readable && events[0].hangup)
        epoll.remove(b.rawValue)
        try epoll.wait(timeoutMilliseconds: 0, into: &events)
        #expect(events.isEmpty)
    }

    @Test func eventFDWakesAnEpollWaitFromAnotherThread() throws {
        let epoll = try Epoll()
        let wakeup = try EventFD()
        defer { wakeup.close() }
        try epoll.add(wakeup.rawValue, interest: .readable)
        // Signals once this thread sleeps in the kernel (in the wait below): a signal sent before the
        // wait would make it return too, without testing the wake-up.
        let waiter = currentThreadID()
        Thread.detachNewThread {
            while !isAsleep(threadID: waiter) { usleep(1_000) }
            wakeup.signal()
        }
        var events: [Epoll.Event] = []
        try epoll.wait(timeoutMilliseconds: 10_000, into: &events)
        #expect(events.map(\.fd) == [wakeup.rawValue])
        wakeup.drain()
        try epoll.wait(timeoutMilliseconds: 0, into: &events)
        #expect(events.isEmpty)
    }

    @Test func signalFDReportsABlockedSignal() throws {
        let signals = try SignalFD.open(signals: [SIGUSR1])
        defer {
            signals.close()
            var mask = sigset_t()
            sigemptyset(&mask)
            sigaddset(&mask, SIGUSR1)
            pthread_sigmask(SIG_UNBLOCK, &mask, nil)
        }
        #expect(signals.readSignal() == nil)
        raise(SIGUSR1) // directed at this thread, which now blocks it
        #expect(signals.readSignal() == SIGUSR1)
    }

    @Test func writingToAClosedPeerIsEPIPENotSIGPIPE() throws {
        let (a, b) = try UnixSocket.pair()
        defer { a.close() }
        b.close()
        let payload: [UInt8] = [1, 2, 3, 4]
        payload.withUnsafeBytes { buffer in
            let plain = #expect(throws: SystemError.self) { try a.write(buffer) }
            #expect(plain?.errno == .brokenPipe)
            let attached = #expect(throws: SystemError.self) { try a.send(buffer, attaching: 0) }
            #expect(attached?.errno == .brokenPipe)
            let vector = [iovec(iov_base: UnsafeMutableRawPointer(mutating: buffer.baseAddress), iov_len: buffer.count)]
            let gathered = #expect(throws: SystemError.self) {
                try vector.withUnsafeBufferPointer { try a.write(vectors: $0) }
            }
            #expect(gathered?.errno == .brokenPipe)
            #expect(gathered?.description.hasSuffix("failed: Broken pipe (EPIPE)") == true)
        }
    }
}
