import Dispatch

/// Runs `body` on the concurrency pool and waits for it on this thread: a command-line tool's
/// synchronous code (an ArgumentParser `run()`) calling async APIs (the etcd client).
public func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let box = OutcomeBox<T>()
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

/// @unchecked: written once by the task before `done.signal()`, read after `done.wait()`.
private final class OutcomeBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
