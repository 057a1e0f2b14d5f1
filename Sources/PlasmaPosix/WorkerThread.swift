import Glibc
import SystemPackage

/// One background thread running jobs in the order they were submitted: blocking work (file I/O) the
/// event loop must not wait for. What a job returns (nil: nothing to report) is kept for
/// `takeOutputs()`, and `notify` is signalled, so that the loop learns of it through epoll. The thread
/// blocks every signal, so that the loop's signalfd still gets them. Call `stop()` before dropping it
/// (the running thread holds it). `@unchecked Sendable`: its queues are only touched under its mutex.
public final class WorkerThread<Output>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var jobs: [() -> Output?] = []
    private var outputs: [Output] = []
    private let notify: EventFD?
    private var head = 0
    /// Jobs submitted and not yet finished (queued or running).
    private var unfinished = 0
    private var stopping = false
    private var thread: pthread_t?

    /// Starts the thread.
    ///
    /// The corresponding C functions are `pthread_create` and, on the thread, `pthread_sigmask`.
    public init(notify: EventFD?) throws(SystemError) {
        self.notify = notify
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
        var thread = pthread_t()
        // A C thread entry can't name a generic type: it gets a plain box holding the work instead.
        let body = Unmanaged.passRetained(ThreadBody { [self] in serve() }).toOpaque()
        let result = pthread_create(&thread, nil, { argument in
            let body = Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue()
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, nil)
            body.run()
            return nil
        }, body)
        guard result == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(body).release()  // the thread never took it
            throw SystemError(operation: "pthread_create(worker)", errno: Errno(rawValue: result))
        }
        self.thread = thread
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    /// Queues `job`; it runs on the thread after every job submitted before it.
    public func submit(_ job: @escaping () -> Output?) {
        pthread_mutex_lock(mutex)
        jobs.append(job)
        unfinished += 1
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
    }

    /// What the jobs finished since the last call returned, in order.
    public func takeOutputs() -> [Output] {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if outputs.isEmpty { return [] }
        let taken = outputs
        outputs.removeAll(keepingCapacity: true)
        return taken
    }

    /// Blocks until every job submitted so far has finished.
    public func waitUntilIdle() {
        pthread_mutex_lock(mutex)
        while unfinished > 0 { pthread_cond_wait(changed, mutex) }
        pthread_mutex_unlock(mutex)
    }

    /// Runs what is queued, then ends the thread and waits for it. Idempotent; from the owner only.
    ///
    /// The corresponding C function is `pthread_join`.
    public func stop() {
        guard let running = thread else { return }
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
        pthread_join(running, nil)
        thread = nil
    }

    private func serve() {
        pthread_mutex_lock(mutex)
        while true {
            while head == jobs.count, !stopping { pthread_cond_wait(changed, mutex) }
            if head == jobs.count { break }  // stopping, and nothing left
            let job = jobs[head]
            head += 1
            if head == jobs.count { jobs.removeAll(keepingCapacity: true); head = 0 }
            pthread_mutex_unlock(mutex)
            let output = job()
            pthread_mutex_lock(mutex)
            if let output { outputs.append(output) }
            unfinished -= 1
            pthread_cond_broadcast(changed)
            if output != nil { notify?.signal() }
        }
        pthread_mutex_unlock(mutex)
    }
}

/// What a new thread runs (see `WorkerThread.init`).
private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
