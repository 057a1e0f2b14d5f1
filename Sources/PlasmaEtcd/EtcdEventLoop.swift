#if Cluster
import NIOCore
import NIOPosix

/// The one event loop thread that every etcd HTTP client of the process runs on, and a task executor
/// over it for the code that awaits those clients (the directory's writer, watches and supervisor).
///
/// Why one thread, and why the tasks run on it: a request awaited from Swift's global executor crossed
/// threads three times (the task handed the request to an event loop, async-http-client scheduled the
/// deadline on whichever loop `any()` picked, the answer resumed the task on a pool thread), and on a
/// small VM each crossing wakes a sleeping thread. With the awaiting task on the loop that owns the
/// connection, the request, its deadline and its answer stay on one thread. docs/CLUSTER.md, "One
/// thread for etcd", has the measurements.
///
/// Nothing on that thread may block or run long: it stalls every etcd request, watch and keepalive of
/// the process. What may (decoding a big watch message, reading a password file) goes through
/// ``offLoop(_:)``.
package enum EtcdEventLoop {
    /// Never shut down: it lives as long as the process, as the HTTP clients on it do.
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Runs tasks that prefer it on the etcd event loop (`Task(executorPreference:)`,
    /// `withTaskExecutorPreference`): what they await from ``EtcdClient`` resumes them on the same thread.
    package static let executor = EventLoopTaskExecutor(group.next())

    /// Watch messages from this size up are decoded by ``offLoop(_:)`` (a lease that ends with 100,000
    /// wants under it is one message of megabytes).
    static let bigMessage = 64 << 10

    /// Runs `work` on Swift's global executor, not on the etcd loop, and returns its result.
    static func offLoop<T: Sendable>(_ work: @escaping @Sendable () throws(EtcdError) -> T) async throws(EtcdError) -> T {
        try await Task.detached { Result { () throws(EtcdError) in try work() } }.value.get()
    }
}

/// A `TaskExecutor` that runs each job on one NIO event loop (SwiftNIO's loops are serial executors
/// for actors, not task executors, in the version this package uses).
package final class EventLoopTaskExecutor: TaskExecutor {
    private let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    /// Queues `job` on the loop; from the loop's own thread this wakes nothing.
    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
#endif
