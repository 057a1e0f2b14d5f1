import Foundation
import Glibc
import PlasmaPosix
import Synchronization

/// The one thread that reads every async connection's socket in this process, over epoll.
///
/// A thread per connection cost a wake-up and two context switches per frame: a process holding many
/// subscriptions on many connections paid that for every event, and each wake-up also cost the store
/// a cross-CPU wake in its `send`. One reader finds every socket that is ready in one `epoll_wait`, so
/// frames that arrive while it works are read without any wake-up at all, on whichever connection.
///
/// While events stream in, the loop also naps between passes (`nap`): for up to `napNanoseconds` it
/// doesn't watch the sockets, so the store's sends during that time wake no one, and the next pass
/// takes all of them at once. It naps only when no task awaits a reply on any connection, and a task
/// that starts awaiting during a nap ends it at once: replies are never held back, and a first event
/// after a quiet spell is read at once; only later events of a stream wait, by at most the nap.
///
/// Sockets are registered nonblocking and stay open until the loop itself has stopped watching them
/// (`retire`), so a descriptor number can't be reused while the loop might still read it.
///
/// The loop's thread is also a task executor (`ReadLoopExecutor`): the jobs of tasks that prefer it
/// run after each pass (`runJobs`), so a reply resumes such a task without waking another thread.
final class ReadLoop: @unchecked Sendable {
    // @unchecked: `epoll` is waited on by the loop's thread only (epoll_ctl is thread-safe), and
    // `state` and `jobs` are behind their locks; each `Registration` is touched by the loop's thread only.

    /// Started on first use; it lives as long as the process, asleep when nothing is registered.
    static let shared = ReadLoop()

    private final class Registration {
        weak var connection: AsyncConnection?
        let reader: ReplyReader
        /// Still in the epoll set: false once the connection failed (its socket may stay readable).
        var watching = true

        init(_ connection: AsyncConnection, _ reader: ReplyReader) {
            self.connection = connection
            self.reader = reader
        }
    }

    private struct State {
        var registrations: [Int32: Registration] = [:]
        /// Sockets whose connection is gone: to unwatch, forget and close on the loop's thread.
        var retired: [UnixSocket] = []
        /// Why the loop can't serve (its set-up or `epoll_wait` failed); connections are refused with it.
        var failure: SystemError?
    }

    /// nil when set-up failed (`state.failure` says why): every `add` then throws instead of trapping.
    private let epoll: Epoll?
    private let wakeup: EventFD?
    private let state = Locked(State())

    private struct Jobs {
        var queue: [UnownedJob] = []
        /// The loop no longer runs jobs (it stopped, or never started): they go to the global executor.
        var stopped: Bool
    }

    /// Tasks resumed onto the loop's thread (`ReadLoopExecutor`), run after each pass.
    private let jobs: Locked<Jobs>
    /// The loop thread's `pthread_self()`, 0 until it runs: a job enqueued from it needs no wake-up.
    private let loopThread = Atomic<UInt>(0)

    /// Longest nap between two passes that delivered events: what a later event of a stream may wait.
    /// `PLASMA_READ_NAP_US` (microseconds, 0 = never nap) overrides it, for measuring.
    static let napNanoseconds: UInt64 = {
        if let text = ProcessInfo.processInfo.environment["PLASMA_READ_NAP_US"], let micros = UInt64(text) {
            return micros * 1000
        }
        return 250_000
    }()
    /// Passes that delivered events closer together than this mean a stream: nap after them. (A nap
    /// that catches nothing costs one extra wake-up: nothing, at the rates this allows.)
    static let streamGapNanoseconds: UInt64 = 20_000_000
    /// Tasks awaiting a reply, over every connection: no nap while there is one.
    private let awaiting = Atomic<Int>(0)
    private let napping = Atomic<Bool>(false)
    private let napCondition = Condition()
    /// A call started during the nap (under `napCondition`).
    private var napInterrupted = false

    /// A set-up failure (out of descriptors, say) is kept and reported to each connection that tries to
    /// use the loop, as an error: a library must not end its host process.
    private init() {
        var made: (Epoll, EventFD)?
        do {
            let epoll = try Epoll()
            let wakeup = try EventFD()
            try epoll.add(wakeup.rawValue, interest: .readable)
            made = (epoll, wakeup)
        } catch {
            state.withLock { $0.failure = error }
        }
        (epoll, wakeup) = (made?.0, made?.1)
        jobs = Locked(Jobs(stopped: made == nil))
        if made != nil { Thread { [self] in run() }.start() }
    }

    /// Starts reading `socket` for `connection` (made nonblocking here); `reader` is the loop's from now on.
    /// Throws the loop's own failure, if it has one.
    func add(_ socket: UnixSocket, reader: ReplyReader, for connection: AsyncConnection) throws(SystemError) {
        try socket.setNonBlocking(true)
        let failure = state.withLock { state -> SystemError? in
            if state.failure == nil { state.registrations[socket.rawValue] = Registration(connection, reader) }
            return state.failure
        }
        if let failure { throw failure }
        do {
            try epoll!.add(socket.rawValue, interest: .readable)
        } catch {
            state.withLock { $0.registrations[socket.rawValue] = nil }
            throw error
        }
    }

    /// The connection is gone: the loop stops watching `socket` and closes it. Any thread.
    func retire(_ socket: UnixSocket) {
        let stopped = state.withLock { state -> Bool in
            if state.failure == nil { state.retired.append(socket) }
            return state.failure != nil
        }
        // A loop that has stopped watches nothing: the socket can close at once.
        guard !stopped else { return socket.close() }
        wakeup!.signal()
    }

    /// A task is about to await a reply: it must not wait for a nap to end. Any thread.
    func callStarted() {
        awaiting.add(1, ordering: .sequentiallyConsistent)
        interruptNap()
    }

    private func interruptNap() {
        guard napping.load(ordering: .sequentiallyConsistent) else { return }
        napCondition.withLock {
            napInterrupted = true
            napCondition.broadcast()
        }
    }

    /// A job of a task that prefers the loop's thread (`ReadLoopExecutor`). Any thread.
    func enqueue(_ job: UnownedJob) {
        let accepted = jobs.withLock { jobs in
            if !jobs.stopped { jobs.queue.append(job) }
            return !jobs.stopped
        }
        guard accepted else { return globalConcurrentExecutor.enqueue(ExecutorJob(job)) }
        // From the loop's own thread (a reply it read resumed a task): it runs the job after this pass.
        if pthread_self() == loopThread.load(ordering: .relaxed) { return }
        // `nap` checks the queue after it sets `napping`: one of the two sees the other.
        interruptNap()
        wakeup!.signal()
    }

    /// Runs the jobs queued so far; true when they queued more. One batch per pass: a task that keeps
    /// re-enqueueing itself (`Task.yield()` in a loop) doesn't stop the loop reading the sockets.
    /// The loop's thread only.
    private func runJobs() -> Bool {
        let executor = ReadLoopExecutor.shared.asUnownedTaskExecutor()
        let batch = jobs.withLock { jobs in
            defer { jobs.queue.removeAll(keepingCapacity: true) }
            return jobs.queue
        }
        for job in batch { job.runSynchronously(on: executor) }
        return batch.isEmpty ? false : jobs.withLock { !$0.queue.isEmpty }
    }

    /// `count` tasks stopped awaiting (answered, cancelled or failed). Any thread.
    func callsEnded(_ count: Int) {
        if count > 0 { awaiting.subtract(count, ordering: .sequentiallyConsistent) }
    }

    private func run() {
        Self.nameCurrentThread("plasma-readloop")
        guard let epoll, let wakeup else { return }
        loopThread.store(pthread_self(), ordering: .relaxed)
        var events: [Epoll.Event] = []
        var lastEventPass: UInt64 = 0
        var moreJobs = false
        while true {
            do {
                // Jobs still queued run after a look at the sockets that doesn't wait.
                try epoll.wait(timeoutMilliseconds: moreJobs ? 0 : -1, into: &events)
            } catch where error.errno == .interrupted {
                continue
            } catch {
                return stop(failing: error)
            }
            var delivered = 0
            for event in events {
                if event.fd == wakeup.rawValue {
                    wakeup.drain()
                    continue
                }
                guard let registration = state.withLock({ $0.registrations[event.fd] }), registration.watching,
                      let connection = registration.connection  // nil: its retirement is on the way
                else { continue }
                if !connection.readAvailable(from: registration.reader, events: &delivered) {
                    registration.watching = false
                    epoll.remove(event.fd)
                }
            }
            retireSockets()
            moreJobs = runJobs()
            if delivered > 0 {
                let now = MonotonicClock.nanoseconds()
                if now - lastEventPass < Self.streamGapNanoseconds { nap() }
                lastEventPass = now
            }
        }
    }

    /// Names the calling thread in the kernel (`top -H`, gdb, `/proc`). Not with `Thread.name`: that
    /// reaches the kernel only if the thread that started this one has already recorded its id, a race
    /// that often left the loop with its creator's name.
    private static func nameCurrentThread(_ name: String) {
        Thread.current.name = name
        let file = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard file >= 0 else { return }
        _ = name.withCString { write(file, $0, strlen($0)) }
        close(file)
    }

    /// Waits up to `napNanoseconds` without watching the sockets, unless a task awaits a reply.
    private func nap() {
        guard Self.napNanoseconds > 0 else { return }
        napping.store(true, ordering: .sequentiallyConsistent)
        napCondition.withLock {
            // Checked after `napping` is set: a call either sees the nap (and ends it) or is seen here.
            if awaiting.load(ordering: .sequentiallyConsistent) == 0, !napInterrupted,
               jobs.withLock({ $0.queue.isEmpty }) {
                napCondition.wait(nanoseconds: Self.napNanoseconds)
            }
            napInterrupted = false
        }
        napping.store(false, ordering: .sequentiallyConsistent)
    }

    /// `epoll_wait` failed for good (it only does on a broken epoll set): every connection's callers get
    /// the error, new connections are refused with it, and the thread ends.
    private func stop(failing error: SystemError) {
        let (registrations, retired) = state.withLock { state in
            defer {
                state.failure = error
                state.registrations.removeAll()
                state.retired.removeAll()
            }
            return (Array(state.registrations.values), state.retired)
        }
        for registration in registrations { registration.connection?.readLoopFailed(error) }
        for socket in retired { socket.close() }
        // Tasks that prefer the loop's thread run elsewhere from now on.
        let queued = jobs.withLock { jobs in
            defer { (jobs.stopped, jobs.queue) = (true, []) }
            return jobs.queue
        }
        for job in queued { globalConcurrentExecutor.enqueue(ExecutorJob(job)) }
    }

    private func retireSockets() {
        let retired = state.withLock { state -> [(UnixSocket, Registration?)] in
            defer { state.retired.removeAll() }
            return state.retired.map { ($0, state.registrations.removeValue(forKey: $0.rawValue)) }
        }
        for (socket, registration) in retired {
            if registration?.watching == true { epoll?.remove(socket.rawValue) }
            socket.close()
        }
    }
}
