import PlasmaPosix

/// A tiny readiness loop in the spirit of Redis's `ae.c`: file events and one timer source, nothing else.
///
/// Level-triggered epoll. Each pass: wait until a descriptor is ready or the next deadline, dispatch
/// (in two rounds: handlers that call `dispatchLater()` run again after all the others, and after
/// `betweenRounds`), then run `beforeSleep` (where the server flushes every client's replies in one
/// write each).
final class EventLoop {
    typealias Handler = (Epoll.Event) -> Void

    private let epoll: Epoll
    private var handlers: [Int32: Handler] = [:]
    private var events: [Epoll.Event] = []
    /// Where in its batch the next pass starts dispatching (modulo the batch's size).
    private var dispatchRotation: UInt64 = 0
    private(set) var isStopping = false
    /// Monotonic nanoseconds the current pass began (its wait returned).
    private(set) var passStartedAt: UInt64 = 0
    /// The event whose handler runs now, in the first round.
    private var currentEvent: Epoll.Event?
    /// Events whose handlers asked to run again after the first round (`dispatchLater`); nil once their
    /// descriptor was unregistered (its number may be reused before the second round reaches it).
    private var laterEvents: [Epoll.Event?] = []
    /// True while the handlers that asked for it run in the second round.
    private(set) var isDispatchingLater = false

    /// Milliseconds until the next timer is due (-1: none). Asked before every wait.
    var timeoutMilliseconds: () -> Int32 = { -1 }
    /// Called after the first round of each pass's dispatch, before the second (if any) and `onWake`.
    var betweenRounds: () -> Void = {}
    /// Called after each pass's dispatch: fire due timers.
    var onWake: () -> Void = {}
    /// Called before each wait: flush output.
    var beforeSleep: () -> Void = {}
    /// Called at the end of each pass (after `beforeSleep`) with the monotonic time it began: when its
    /// wait returned. For the pass-duration statistics (PassMeter.swift).
    var passEnded: (_ startedAt: UInt64) -> Void = { _ in }
    /// Called once when nothing has happened for `idleDelayMilliseconds` after a pass that did work.
    var onIdle: () -> Void = {}
    var idleDelayMilliseconds: Int32 = 1000
    private var idleCallPending = false
    private var lastWorkNanoseconds: UInt64 = 0

    /// After a pass that did work, poll without sleeping for a while: the next request of a busy
    /// client usually arrives sooner than a halted CPU wakes up (tens of microseconds on a VM). The
    /// window adapts: it shrinks to nothing when polling doesn't pay (an idle store, a shared core).
    private var busyPoll: AdaptiveSpin
    private var busyUntil: UInt64 = 0

    init(busyPollNanoseconds: UInt64) throws(SystemError) {
        epoll = try Epoll()
        // Forgiving a lone miss: between a client's requests the gap is mostly the client's own wake-up,
        // which now and then takes longer than the window (docs/ARCHITECTURE.md step 9).
        busyPoll = AdaptiveSpin(maximumNanoseconds: busyPollNanoseconds, forgivesLoneMiss: true)
    }

    func register(_ fd: Int32, interest: Epoll.Interest, handler: @escaping Handler) throws(SystemError) {
        try epoll.add(fd, interest: interest)
        handlers[fd] = handler
    }

    func modify(_ fd: Int32, interest: Epoll.Interest) throws(SystemError) {
        try epoll.modify(fd, interest: interest)
    }

    /// Forgets `fd`; call before closing it, so that a reused number can't reach a stale handler.
    func unregister(_ fd: Int32) {
        guard handlers.removeValue(forKey: fd) != nil else { return }
        epoll.remove(fd)
        // A postponed event of this descriptor must not reach whatever registers its number next.
        for index in laterEvents.indices where laterEvents[index]?.fd == fd { laterEvents[index] = nil }
    }

    func stop() { isStopping = true }

    /// From inside a handler in the first round (a no-op in the second, and when repeated): call it
    /// again for the same event once every other ready descriptor's handler has run, and
    /// `betweenRounds`. The handler should do nothing else this round.
    func dispatchLater() {
        guard let event = currentEvent, !isDispatchingLater else { return }
        laterEvents.append(event)
        currentEvent = nil
    }

    func run() throws(SystemError) {
        var passStarted: UInt64 = 0
        while !isStopping {
            beforeSleep()
            if passStarted != 0 { passEnded(passStarted) }
            let polling = busyUntil != 0
            var timeout = polling ? 0 : timeoutMilliseconds()
            if idleCallPending, !polling {
                timeout = timeout < 0 ? idleDelayMilliseconds : min(timeout, idleDelayMilliseconds)
            }
            try epoll.wait(timeoutMilliseconds: timeout, into: &events)
            let now = MonotonicClock.nanoseconds()  // one clock read per pass, for the bookkeepers
            passStarted = now
            passStartedAt = now
            adaptBusyPoll(polling: polling, now: now)
            noteIdleness(now: now)
            // Each pass starts its dispatch one place further into the batch. Handlers stop early once
            // the pass's work budget is spent (big frames, StoreServer.readAvailable); with a batch in
            // the same order every pass, the descriptors listed last would wait forever.
            let count = events.count
            let start = count == 0 ? 0 : Int(dispatchRotation % UInt64(count))
            dispatchRotation &+= 1
            for step in 0..<count {
                let event = events[(start + step) % count]
                currentEvent = event
                // A handler may have unregistered a later descriptor in this same batch.
                handlers[event.fd]?(event)
            }
            currentEvent = nil
            betweenRounds()
            if !laterEvents.isEmpty {
                isDispatchingLater = true
                var index = 0
                while index < laterEvents.count {  // by index: a handler may unregister a later one
                    if let event = laterEvents[index] { handlers[event.fd]?(event) }
                    index += 1
                }
                isDispatchingLater = false
                laterEvents.removeAll(keepingCapacity: true)
            }
            onWake()
        }
        beforeSleep()
    }

    private func noteIdleness(now: UInt64) {
        if !events.isEmpty {
            idleCallPending = true
            lastWorkNanoseconds = now
        } else if idleCallPending, now - lastWorkNanoseconds >= UInt64(idleDelayMilliseconds) * 1_000_000 {
            idleCallPending = false
            onIdle()
        }
    }

    /// Learns from this pass whether polling paid, and sets the next polling deadline (0: sleep).
    private func adaptBusyPoll(polling: Bool, now: UInt64) {
        if !events.isEmpty {
            if polling { busyPoll.caught() } else { busyPoll.sleptWithoutPolling() }
            busyUntil = busyPoll.windowNanoseconds > 0 ? now + busyPoll.windowNanoseconds : 0
        } else if polling, now >= busyUntil {
            busyPoll.missed()
            busyUntil = 0
        }
    }
}

