import CPlasma
import Glibc
import SystemPackage

// Every system call PlasmaPosix makes, each a tiny function (cf. swift-system's Syscalls.swift). Nothing
// else in the target calls into the kernel or CPlasma, so this is the one place to read, trace or mock.
// Calls retry on EINTR unless noted; results are `Result<_, Errno>` for the typed API to name.

/// Runs a libc call until it stops failing with EINTR; -1 becomes `errno`.
@inline(__always)
internal func valueOrErrno<T: FixedWidthInteger>(
    retryOnInterrupt: Bool = true, _ body: () -> T
) -> Result<T, Errno> {
    while true {
        let result = body()
        if result != -1 { return .success(result) }
        let errno = Errno(rawValue: Glibc.errno)
        if retryOnInterrupt && errno == .interrupted { continue }
        return .failure(errno)
    }
}

/// Runs a CPlasma call (which returns -errno) until it stops failing with EINTR.
@inline(__always)
internal func valueOrNegatedErrno<T: FixedWidthInteger & SignedInteger>(_ body: () -> T) -> Result<T, Errno> {
    while true {
        let result = body()
        if result >= 0 { return .success(result) }
        let errno = Errno(rawValue: CInt(truncatingIfNeeded: -result))
        if errno == .interrupted { continue }
        return .failure(errno)
    }
}

// MARK: sockets

internal func system_socket(_ domain: CInt, _ type: CInt) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.socket(domain, type, 0) }
}

internal func system_socketpair(_ type: CInt, _ fds: UnsafeMutablePointer<CInt>) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.socketpair(AF_UNIX, type, 0, fds) }
}

internal func system_bind(_ fd: CInt, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.bind(fd, address, length) }
}

/// Retried on EINTR: an interrupted AF_UNIX connect has queued nothing, so trying again is safe.
internal func system_connect(_ fd: CInt, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.connect(fd, address, length) }
}

internal func system_listen(_ fd: CInt, _ backlog: CInt) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.listen(fd, backlog) }
}


internal func system_read(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
    valueOrErrno { Glibc.read(fd, buffer.baseAddress, buffer.count) }
}

internal func system_write(_ fd: CInt, _ buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> {
    valueOrErrno { Glibc.write(fd, buffer.baseAddress, buffer.count) }
}

internal func system_send(_ fd: CInt, _ buffer: UnsafeRawBufferPointer, _ flags: CInt) -> Result<Int, Errno> {
    valueOrErrno { Glibc.send(fd, buffer.baseAddress, buffer.count, flags) }
}

internal func system_recv(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer, _ flags: CInt) -> Result<Int, Errno> {
    valueOrErrno { Glibc.recv(fd, buffer.baseAddress, buffer.count, flags) }
}

internal func system_sendmsg(_ fd: CInt, _ message: UnsafePointer<msghdr>, _ flags: CInt) -> Result<Int, Errno> {
    valueOrErrno { Glibc.sendmsg(fd, message, flags) }
}

internal func system_poll(_ fd: CInt, _ events: Int16, _ timeoutMilliseconds: CInt) -> Result<CInt, Errno> {
    var entry = pollfd(fd: fd, events: events, revents: 0)
    return valueOrErrno { Glibc.poll(&entry, 1, timeoutMilliseconds) }
}

internal func system_fcntl(_ fd: CInt, _ command: CInt, _ value: CInt) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.fcntl(fd, command, value) }
}

internal func system_chmod(_ path: String, _ mode: mode_t) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.chmod(path, mode) }
}

/// Changes only the group (owner -1: unchanged).
internal func system_chgrp(_ path: String, _ group: gid_t) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.chown(path, uid_t.max, group) }
}

/// The gid of the group named `name`, nil when there is none; grows its buffer on ERANGE.
internal func system_getgrnam(_ name: String) -> Result<gid_t?, Errno> {
    var size = 1024
    while true {
        var entry = Glibc.group()
        var found: UnsafeMutablePointer<Glibc.group>?
        var buffer = [CChar](repeating: 0, count: size)
        let status = getgrnam_r(name, &entry, &buffer, size, &found)
        switch status {
        case 0: return .success(found?.pointee.gr_gid)
        case EINTR: continue
        case ERANGE where size < 1 << 24: size *= 2
        // getgrnam_r(3): these mean "no such group" on some systems.
        case ENOENT, ESRCH, EBADF, EPERM: return .success(nil)
        default: return .failure(Errno(rawValue: status))
        }
    }
}

internal func system_unlink(_ path: String) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.unlink(path) }
}

// MARK: files: publishing a socket file (UnixSocket+Publish.swift)

internal func system_lstat(_ path: String, _ status: inout stat) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.lstat(path, &status) }
}

/// A new directory, mode 0700, named by replacing the template's trailing XXXXXX; its path.
internal func system_mkdtemp(_ template: String) -> Result<String, Errno> {
    var bytes = Array(template.utf8CString)
    return bytes.withUnsafeMutableBufferPointer { buffer in
        guard Glibc.mkdtemp(buffer.baseAddress!) != nil else { return .failure(Errno(rawValue: Glibc.errno)) }
        return .success(String(cString: buffer.baseAddress!))
    }
}

/// A handle on a directory of ours, for /proc/self/fd paths.
internal func system_open_directory_path(_ path: String) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW) }
}

/// Fails with EEXIST rather than replace anything at `to`.
internal func system_link(_ from: String, _ to: String) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.link(from, to) }
}

internal func system_rmdir(_ path: String) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.rmdir(path) }
}

// MARK: resource limits

internal func system_getrlimit_nofile(_ limit: inout rlimit) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) }
}

internal func system_setrlimit_nofile(_ limit: inout rlimit) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) }
}

internal func system_shutdown(_ fd: CInt, _ how: CInt) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.shutdown(fd, how) }
}

/// Not retried: on Linux the descriptor is released even when close reports EINTR.
internal func system_close(_ fd: CInt) -> Result<CInt, Errno> {
    valueOrErrno(retryOnInterrupt: false) { Glibc.close(fd) }
}

// MARK: CPlasma: accept4, fd passing and credentials

internal func system_sendmsg_fd(_ fd: CInt, _ buffer: UnsafeRawBufferPointer, _ descriptor: CInt) -> Result<Int, Errno> {
    valueOrNegatedErrno { plasma_sendmsg_fd(fd, buffer.baseAddress, buffer.count, descriptor) }
}

internal func system_recvmsg_fds(
    _ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer,
    _ descriptors: UnsafeMutableBufferPointer<CInt>, _ count: inout CInt
) -> Result<Int, Errno> {
    valueOrNegatedErrno {
        plasma_recvmsg_fds(fd, buffer.baseAddress, buffer.count, descriptors.baseAddress, CInt(descriptors.count), &count)
    }
}

internal func system_accept4(_ fd: CInt, _ flags: CInt) -> Result<CInt, Errno> {
    valueOrNegatedErrno { plasma_accept4(fd, flags) }
}

internal func system_send_fd_arrow(_ fd: CInt, _ descriptor: CInt) -> Result<CInt, Errno> {
    valueOrNegatedErrno { plasma_send_fd_arrow(fd, descriptor) }
}

internal func system_recv_fd_arrow(_ fd: CInt) -> Result<CInt, Errno> {
    valueOrNegatedErrno { plasma_recv_fd_arrow(fd) }
}

internal func system_peer_credentials(
    _ fd: CInt, _ pid: inout Int32, _ uid: inout UInt32, _ gid: inout UInt32
) -> Result<CInt, Errno> {
    valueOrNegatedErrno { plasma_peer_credentials(fd, &pid, &uid, &gid) }
}

internal func system_errno_name(_ errno: CInt) -> UnsafePointer<CChar>? {
    plasma_errno_name(errno)
}

// MARK: epoll, eventfd, signalfd

internal func system_epoll_create1(_ flags: CInt) -> Result<CInt, Errno> {
    valueOrErrno { epoll_create1(flags) }
}

internal func system_epoll_ctl(_ epfd: CInt, _ op: CInt, _ fd: CInt, _ event: UnsafeMutablePointer<epoll_event>?) -> Result<CInt, Errno> {
    valueOrErrno { epoll_ctl(epfd, op, fd, event) }
}

/// Not retried: an interrupted wait returns to the loop, which decides what to do.
internal func system_epoll_wait(
    _ epfd: CInt, _ events: UnsafeMutablePointer<epoll_event>, _ capacity: CInt, _ timeout: CInt
) -> Result<CInt, Errno> {
    valueOrErrno(retryOnInterrupt: false) { epoll_wait(epfd, events, capacity, timeout) }
}

internal func system_eventfd(_ initial: CUnsignedInt, _ flags: CInt) -> Result<CInt, Errno> {
    valueOrErrno { eventfd(initial, flags) }
}

internal func system_signalfd(_ mask: UnsafePointer<sigset_t>, _ flags: CInt) -> Result<CInt, Errno> {
    valueOrErrno { signalfd(-1, mask, flags) }
}

/// pthread_sigmask returns the error number instead of setting errno.
internal func system_pthread_sigmask(_ how: CInt, _ mask: UnsafePointer<sigset_t>) -> Result<CInt, Errno> {
    let result = pthread_sigmask(how, mask, nil)
    return result == 0 ? .success(0) : .failure(Errno(rawValue: result))
}

// MARK: CPlasma: shared memory

internal func system_arena_create(
    _ size: UInt64, _ flags: CInt, _ directory: String?, _ arena: inout plasma_arena_t
) -> Result<CInt, Errno> {
    valueOrNegatedErrno { plasma_arena_create(size, flags, directory, &arena) }
}

internal func system_arena_destroy(_ arena: inout plasma_arena_t) {
    plasma_arena_destroy(&arena)
}

internal func system_map_shared(_ fd: CInt, _ size: Int, writable: Bool, populate: Bool) -> Result<UnsafeMutableRawPointer, Errno> {
    var error: CInt = 0
    guard let base = plasma_map_shared(fd, UInt64(size), writable ? 1 : 0, populate ? 1 : 0, &error) else {
        return .failure(Errno(rawValue: error))
    }
    return .success(base)
}

internal func system_unmap(_ base: UnsafeMutableRawPointer, _ size: Int) {
    _ = plasma_unmap(base, UInt64(size))
}

internal func system_page_size() -> Int {
    Int(plasma_page_size())
}

// MARK: files relative to a directory descriptor (SpillDirectory)

internal func system_mkdir(_ path: String, _ mode: mode_t) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.mkdir(path, mode) }
}

internal func system_open(_ path: String, _ flags: CInt) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.open(path, flags) }
}

internal func system_openat(_ directory: CInt, _ name: String, _ flags: CInt, _ mode: mode_t) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.openat(directory, name, flags, mode) }
}

internal func system_fstat(_ fd: CInt, _ status: inout stat) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.fstat(fd, &status) }
}

internal func system_unlinkat(_ directory: CInt, _ name: String, _ flags: CInt) -> Result<CInt, Errno> {
    valueOrErrno { Glibc.unlinkat(directory, name, flags) }
}

internal func system_renameat_noreplace(_ directory: CInt, _ from: String, _ to: String) -> Result<CInt, Errno> {
    valueOrNegatedErrno { plasma_renameat_noreplace(directory, from, to) }
}

internal func system_geteuid() -> uid_t { Glibc.geteuid() }

internal func system_getpid() -> pid_t { Glibc.getpid() }

// MARK: CPlasma: checksums

internal func system_xxh64(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
    plasma_xxh64(bytes.baseAddress, bytes.count, seed)
}

/// Pages of physical memory; 0 when unknown.
internal func system_physical_pages() -> Int {
    max(0, sysconf(Int32(_SC_PHYS_PAGES)))
}

// MARK: CPlasma: the service manager's protocols (ServiceNotifier.swift, SocketActivation.swift)

internal func system_notify(_ socketPath: String, _ message: String) -> Result<CInt, Errno> {
    var message = message
    return message.withUTF8 { bytes in valueOrNegatedErrno { plasma_notify(socketPath, bytes.baseAddress, bytes.count) } }
}

internal func system_check_unix_listener(_ fd: CInt) -> Result<CInt, Errno> {
    valueOrNegatedErrno { plasma_check_unix_listener(fd) }
}

internal func system_socket_bound_path(_ fd: CInt) -> Result<String, Errno> {
    var buffer = [CChar](repeating: 0, count: 256)
    let count = buffer.count
    return valueOrNegatedErrno { plasma_socket_bound_path(fd, &buffer, count) }.map { _ in
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

internal func system_getenv(_ name: String) -> String? {
    Glibc.getenv(name).map { String(cString: $0) }
}

internal func system_unsetenv(_ name: String) {
    _ = Glibc.unsetenv(name)
}

// MARK: CPlasma: background population of the arena (ArenaPopulation.swift)

internal func system_populator_start(
    _ base: UnsafeMutableRawPointer, _ size: Int, chunk: Int, page: Int, notify: CInt
) -> Result<OpaquePointer, Errno> {
    var err: CInt = 0
    guard let populator = plasma_populator_start(base, UInt64(size), UInt64(chunk), UInt64(page), notify, &err) else {
        return .failure(Errno(rawValue: err))
    }
    return .success(populator)
}

internal func system_populator_stop(_ populator: OpaquePointer) {
    plasma_populator_stop(populator)
}

internal func system_populator_free(_ populator: OpaquePointer) {
    plasma_populator_free(populator)
}

// MARK: CPlasma: TCP for the transfer plane (TCPSocket.swift)

internal func system_tcp_listen(_ host: String, _ port: UInt16, _ backlog: CInt, _ bound: inout UInt16) -> Result<CInt, Errno> {
    valueOrNegatedErrno { plasma_tcp_listen(host, port, backlog, &bound) }
}

/// Not retried on EINTR: the C side polls against its own deadline and retries there.
internal func system_tcp_connect(_ host: String, _ port: UInt16, _ timeoutMilliseconds: CInt) -> Result<CInt, Errno> {
    valueOrNegatedErrno { plasma_tcp_connect(host, port, timeoutMilliseconds) }
}

internal func system_tcp_accept(_ fd: CInt, _ peer: inout [CChar]) -> Result<CInt, Errno> {
    let count = peer.count
    return valueOrNegatedErrno { plasma_tcp_accept(fd, &peer, count) }
}

internal func system_tcp_set_timeouts(_ fd: CInt, _ receiveMilliseconds: Int64, _ sendMilliseconds: Int64) -> Result<CInt, Errno> {
    valueOrNegatedErrno { plasma_tcp_set_timeouts(fd, receiveMilliseconds, sendMilliseconds) }
}

internal func system_sendfile(_ fd: CInt, _ source: CInt, _ offset: Int, _ count: Int) -> Result<Int, Errno> {
    valueOrNegatedErrno { plasma_sendfile(fd, source, UInt64(offset), count) }
}

// MARK: threads (PosixThread.swift)

internal func system_pthread_create(
    _ thread: inout pthread_t, _ body: UnsafeMutableRawPointer,
    _ entry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?
) -> Result<CInt, Errno> {
    let result = pthread_create(&thread, nil, entry, body)
    return result == 0 ? .success(0) : .failure(Errno(rawValue: result))
}

internal func system_pthread_join(_ thread: pthread_t) {
    _ = pthread_join(thread, nil)
}

// MARK: CPlasma: streaming checksums

internal func system_xxh64_reset(_ state: inout plasma_xxh64_state_t, seed: UInt64) {
    plasma_xxh64_reset(&state, seed)
}

internal func system_xxh64_update(_ state: inout plasma_xxh64_state_t, _ bytes: UnsafeRawBufferPointer) {
    plasma_xxh64_update(&state, bytes.baseAddress, bytes.count)
}

internal func system_xxh64_update2(_ a: inout plasma_xxh64_state_t, _ b: inout plasma_xxh64_state_t, _ bytes: UnsafeRawBufferPointer) {
    plasma_xxh64_update2(&a, &b, bytes.baseAddress, bytes.count)
}

internal func system_xxh64_digest(_ state: inout plasma_xxh64_state_t) -> UInt64 {
    plasma_xxh64_digest(&state)
}
