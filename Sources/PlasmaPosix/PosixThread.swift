import Glibc
import SystemPackage

/// A joinable thread running one closure with every signal blocked, so that signals meant for the
/// process (SIGTERM for the store's signalfd) reach the threads that wait for them, and a SIGPIPE from
/// `sendfile` on a closed peer stays pending here instead of killing the process. Call ``join()`` once.
/// `@unchecked Sendable`: `thread` is set in init and read only by ``join()``, from the owner.
public final class PosixThread: @unchecked Sendable {
    private var thread: pthread_t?

    /// Starts `body` on a new thread.
    ///
    /// The corresponding C functions are `pthread_create` and, on the thread, `pthread_sigmask`.
    public init(_ body: @escaping @Sendable () -> Void) throws(SystemError) {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        let result = system_pthread_create(&thread, box) { argument in
            let body = Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue()
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, nil)
            body.run()
            return nil
        }
        if case .failure(let errno) = result {
            Unmanaged<Body>.fromOpaque(box).release()  // the thread never took it
            throw SystemError(operation: "pthread_create", errno: errno)
        }
        self.thread = thread
    }

    /// Waits for the closure to return. Idempotent.
    ///
    /// The corresponding C function is `pthread_join`.
    public func join() {
        guard let running = thread else { return }
        thread = nil
        system_pthread_join(running)
    }
}

/// What a new thread runs (an entry point of C can't capture a closure).
private final class Body {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}
