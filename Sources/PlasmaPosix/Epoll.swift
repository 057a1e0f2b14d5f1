import CPlasma
import Glibc
import SystemPackage

/// epoll, the whole selector in one small type (cf. swift-nio's SelectorEpoll.swift). Level-triggered.
/// Not Sendable: one thread owns it, and its event buffer is reused on every wait.
public final class Epoll {
    /// What to be told about. Peer shutdown (EPOLLRDHUP) counts as readable: the read will see EOF.
    public struct Interest: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let readable = Interest(rawValue: 1 << 0)
        public static let writable = Interest(rawValue: 1 << 1)
    }

    /// One ready descriptor. `hangup` is EPOLLHUP or EPOLLERR, reported whatever the interest.
    public struct Event: Sendable, Hashable {
        public let fd: Int32
        public let readable: Bool
        public let writable: Bool
        public let hangup: Bool

        public init(fd: Int32, readable: Bool, writable: Bool, hangup: Bool) {
            self.fd = fd
            self.readable = readable
            self.writable = writable
            self.hangup = hangup
        }
    }

    /// Most events one `wait` returns; the rest stay ready for the next (level-triggered).
    public static let eventsPerWait = 256

    public let rawValue: Int32
    private let buffer: UnsafeMutablePointer<epoll_event>

    /// The corresponding C function is `epoll_create1`.
    public init() throws(SystemError) {
        rawValue = try system_epoll_create1(CInt(EPOLL_CLOEXEC)).get("epoll_create1")
        buffer = .allocate(capacity: Self.eventsPerWait)
    }

    deinit {
        _ = system_close(rawValue)
        buffer.deallocate()
    }

    /// The corresponding C function is `epoll_ctl(EPOLL_CTL_ADD)`.
    public func add(_ fd: Int32, interest: Interest) throws(SystemError) {
        try control(EPOLL_CTL_ADD, fd, interest, "epoll_ctl(ADD, fd \(fd))")
    }

    /// The corresponding C function is `epoll_ctl(EPOLL_CTL_MOD)`.
    public func modify(_ fd: Int32, interest: Interest) throws(SystemError) {
        try control(EPOLL_CTL_MOD, fd, interest, "epoll_ctl(MOD, fd \(fd))")
    }

    /// Stops watching `fd`; an fd not watched (or already closed) is ignored.
    ///
    /// The corresponding C function is `epoll_ctl(EPOLL_CTL_DEL)`.
    public func remove(_ fd: Int32) {
        _ = system_epoll_ctl(rawValue, EPOLL_CTL_DEL, fd, nil)
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) and replaces `events` with what is ready, at most
    /// `eventsPerWait`. Interrupted by a signal, it returns with no events.
    ///
    /// The corresponding C function is `epoll_wait`.
    public func wait(timeoutMilliseconds: Int32, into events: inout [Event]) throws(SystemError) {
        events.removeAll(keepingCapacity: true)
        let result = system_epoll_wait(rawValue, buffer, CInt(Self.eventsPerWait), timeoutMilliseconds)
        if case .failure(let errno) = result, errno == .interrupted { return }
        let count = try result.get("epoll_wait")
        for ready in UnsafeBufferPointer(start: buffer, count: Int(count)) {
            let mask = ready.events
            events.append(Event(
                fd: ready.data.fd,
                readable: mask & (Self.inMask | Self.rdhupMask) != 0,
                writable: mask & Self.outMask != 0,
                hangup: mask & (Self.hupMask | Self.errMask) != 0
            ))
        }
    }

    private func control(_ op: CInt, _ fd: Int32, _ interest: Interest, _ operation: @autoclosure () -> String) throws(SystemError) {
        var mask: UInt32 = 0
        if interest.contains(.readable) { mask |= Self.inMask | Self.rdhupMask }
        if interest.contains(.writable) { mask |= Self.outMask }
        var event = epoll_event(events: mask, data: epoll_data_t(fd: fd))
        _ = try system_epoll_ctl(rawValue, op, fd, &event).get(operation())
    }

    private static let inMask = EPOLLIN.rawValue
    private static let outMask = EPOLLOUT.rawValue
    private static let rdhupMask = EPOLLRDHUP.rawValue
    private static let hupMask = EPOLLHUP.rawValue
    private static let errMask = EPOLLERR.rawValue
}
