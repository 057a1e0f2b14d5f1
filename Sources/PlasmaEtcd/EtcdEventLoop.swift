#if Cluster
import NIOCore
import NIOPosix

/// The one event loop thread that every etcd HTTP client of the process runs on, and a task executor
/// over it for the code that awaits those clients (the directory's writer, watches and supervisor).
///
/// Why one thread, and why the tasks run on it: a request awaited from Swift's global executor crosses
/// threads three times (the task hands the request to an event loop, async-http-client schedules the
/// deadline on whichever loop `any()` picks, the response resumes the task on a pool thread), and on a
/// small VM each crossing wakes a sleeping thread. With the awaiting task on the loop that owns the
/// connection, a request and its answer stay on one thread; only the store's hand-off to the writer
/// (and the directory's to the store) crosses. docs/CLUSTER.md, "One thread for etcd", has the
/// measurements. The thread only does I/O and small JSON: nothing on it may block.
public enum EtcdEventLoop {
    /// Never shut down: it lives as long as the process, as the HTTP clients on it do.
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Runs tasks that prefer it on the etcd event loop (`Task(executorPreference:)`,
    /// `withTaskExecutorPreference`): what they await from ``EtcdClient`` resumes them on the same thread.
    public static let executor = EventLoopTaskExecutor(group.next())
}

/// A `TaskExecutor` that runs each job on one NIO event loop (SwiftNIO's loops are serial executors
/// for actors, not task executors, in the version this package uses).
public final class EventLoopTaskExecutor: TaskExecutor {
    private let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    /// Queues `job` on the loop; from the loop's own thread this wakes nothing.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
#endif
