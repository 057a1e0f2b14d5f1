import Glibc
import SystemPackage

// Reads and writes. On a nonblocking socket nil means EAGAIN; writes never raise SIGPIPE (MSG_NOSIGNAL),
// a closed peer is a SystemError with EPIPE instead.
extension UnixSocket {
    /// Reads what is available: bytes read, 0 at EOF, nil when nothing is (EAGAIN).
    ///
    /// The corresponding C function is `read`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int? {
        try system_read(rawValue, buffer).unlessWouldBlock("read(fd \(rawValue))")
    }

    /// Whether at least `count` bytes (at most 64) wait to be read; nothing is consumed. False on any
    /// error: the caller's next read reports it.
    ///
    /// The corresponding C function is `recv` with `MSG_PEEK | MSG_DONTWAIT`.
    public func hasBytesWaiting(_ count: Int) -> Bool {
        withUnsafeTemporaryAllocation(byteCount: min(max(count, 1), 64), alignment: 1) { buffer in
            guard case .success(let waiting) = system_recv(rawValue, buffer, CInt(MSG_PEEK | MSG_DONTWAIT)) else {
                return false
            }
            return waiting >= count
        }
    }

    /// Reads like `read(into:)` and appends any descriptors that came with the bytes (close-on-exec), at
    /// most `maxDescriptors` (up to 253); extras are closed. When the kernel had to drop some for lack of
    /// room, every one received is closed and it fails with EMSGSIZE (the bytes are consumed).
    ///
    /// The corresponding C function is `recvmsg`, through `plasma_recvmsg_fds`.
    public func receive(
        into buffer: UnsafeMutableRawBufferPointer, descriptors: inout [Int32], maxDescriptors: Int = 4
    ) throws(SystemError) -> Int? {
        try withUnsafeTemporaryAllocation(of: CInt.self, capacity: max(maxDescriptors, 1)) { storage in
            var count: CInt = 0
            let fds = UnsafeMutableBufferPointer(rebasing: storage[..<maxDescriptors])
            let result = system_recvmsg_fds(rawValue, buffer, fds, &count)
            descriptors.append(contentsOf: fds[..<Int(count)])
            return result
        }.unlessWouldBlock("recvmsg(fd \(rawValue))")
    }

    /// Sends what fits: bytes sent, nil when none fit (EAGAIN).
    ///
    /// The corresponding C function is `send` with `MSG_NOSIGNAL`.
    public func write(_ buffer: UnsafeRawBufferPointer) throws(SystemError) -> Int? {
        try system_send(rawValue, buffer, CInt(MSG_NOSIGNAL)).unlessWouldBlock("send(fd \(rawValue))")
    }

    /// Sends what fits without ever blocking, whatever the descriptor's `O_NONBLOCK` flag says: bytes
    /// sent, nil when none fit (EAGAIN). For a socket another process shares (a descriptor it passed):
    /// the flag belongs to the open file description, which that process can change at any time.
    ///
    /// The corresponding C function is `send` with `MSG_DONTWAIT | MSG_NOSIGNAL`.
    public func writeWithoutBlocking(_ buffer: UnsafeRawBufferPointer) throws(SystemError) -> Int? {
        try system_send(rawValue, buffer, CInt(MSG_DONTWAIT | MSG_NOSIGNAL)).unlessWouldBlock("send(fd \(rawValue))")
    }

    /// Gathers `vectors` into one send: bytes sent, nil when none fit (EAGAIN). At most 1024 vectors
    /// (the kernel's UIO_MAXIOV) go per call; the rest is a short write like any other.
    ///
    /// The corresponding C function is `sendmsg` with `MSG_NOSIGNAL` (`writev` could raise SIGPIPE).
    public func write(vectors: UnsafeBufferPointer<iovec>) throws(SystemError) -> Int? {
        var message = msghdr()
        message.msg_iov = UnsafeMutablePointer(mutating: vectors.baseAddress)
        message.msg_iovlen = min(vectors.count, 1024)
        return try system_sendmsg(rawValue, &message, CInt(MSG_NOSIGNAL)).unlessWouldBlock("sendmsg(fd \(rawValue))")
    }

    /// Sends `buffer` with `descriptor` riding on its first byte: bytes sent, nil when none fit (EAGAIN).
    /// The descriptor stays open here; the receiver gets its own.
    ///
    /// The corresponding C function is `sendmsg` with `SCM_RIGHTS`, through `plasma_sendmsg_fd`.
    public func send(_ buffer: UnsafeRawBufferPointer, attaching descriptor: Int32) throws(SystemError) -> Int? {
        try system_sendmsg_fd(rawValue, buffer, descriptor).unlessWouldBlock("sendmsg(fd \(rawValue), SCM_RIGHTS)")
    }

    /// Arrow's fd "fling": one data byte carrying one descriptor. false when it didn't fit (EAGAIN).
    ///
    /// The corresponding C function is `plasma_send_fd_arrow` (Arrow's `send_fd`).
    public func sendArrowDescriptor(_ fd: Int32) throws(SystemError) -> Bool {
        try system_send_fd_arrow(rawValue, fd).unlessWouldBlock("send_fd(fd \(rawValue))") != nil
    }

    /// Receives one Arrow fling: the descriptor, nil when none is waiting (EAGAIN). EOF fails with
    /// ECONNRESET; a byte with no descriptor or several fails with EBADMSG (all closed).
    ///
    /// The corresponding C function is `plasma_recv_fd_arrow` (Arrow's `recv_fd`).
    public func receiveArrowDescriptor() throws(SystemError) -> Int32? {
        try system_recv_fd_arrow(rawValue).unlessWouldBlock("recv_fd(fd \(rawValue))")
    }

    /// Sends all of `buffer`, waiting for room when the socket is nonblocking.
    ///
    /// The corresponding C functions are `send` and `poll`.
    public func writeAll(_ buffer: UnsafeRawBufferPointer) throws(SystemError) {
        var offset = 0
        while offset < buffer.count {
            if let sent = try write(UnsafeRawBufferPointer(rebasing: buffer[offset...])) {
                offset += sent
            } else {
                try waitFor(Int16(POLLOUT))
            }
        }
    }

    /// Fills `buffer`, waiting for data when the socket is nonblocking. false on EOF before any byte;
    /// EOF part way fails with ECONNRESET.
    ///
    /// The corresponding C functions are `read` and `poll`.
    public func readExactly(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Bool {
        var offset = 0
        while offset < buffer.count {
            guard let count = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset...])) else {
                try waitFor(Int16(POLLIN))
                continue
            }
            if count == 0 {
                if offset == 0 { return false }
                throw SystemError(operation: "read(fd \(rawValue))", errno: .connectionReset)
            }
            offset += count
        }
        return true
    }

    /// Blocks until the socket has something to read (or is closed).
    ///
    /// The corresponding C function is `poll`.
    public func waitUntilReadable() throws(SystemError) {
        try waitFor(Int16(POLLIN))
    }

    /// Waits at most `timeoutMilliseconds` (0: don't wait) for the socket to have something to read;
    /// false when the time passed first.
    ///
    /// The corresponding C function is `poll`.
    public func waitUntilReadable(timeoutMilliseconds: Int32) throws(SystemError) -> Bool {
        try system_poll(rawValue, Int16(POLLIN), max(0, timeoutMilliseconds)).get("poll(fd \(rawValue))") > 0
    }

    private func waitFor(_ events: Int16) throws(SystemError) {
        _ = try system_poll(rawValue, events, -1).get("poll(fd \(rawValue))")
    }
}
