/// The process's read-loop thread as a `TaskExecutor` (``AsyncPlasmaClient/readLoopExecutor``): a task
/// that prefers it is resumed by a reply on the thread that read the reply, in the same wake-up.
///
/// Without it, the read loop resumes an awaiting task by handing it to the cooperative pool, which wakes
/// a second sleeping thread to run it. Jobs enqueued here run on the loop's thread after each pass over
/// the sockets (`ReadLoop.runJobs`); if the loop has stopped, they go to the global executor instead.
final class ReadLoopExecutor: TaskExecutor, Sendable {
    static let shared = ReadLoopExecutor()

    private init() {}

    func enqueue(_ job: consuming ExecutorJob) {
        ReadLoop.shared.enqueue(UnownedJob(job))
    }
}
