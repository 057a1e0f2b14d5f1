import Glibc
import PlasmaPosix

/// One parallel copy: its ranges, cut into `chunks` pieces that end on 4 KiB pages of the destination,
/// and how far it got. Its counters are only touched under the pool's mutex.
final class CopyJob: @unchecked Sendable {
    // @unchecked: the pointers are the caller's, valid until `CopyPool.copy` returns, which waits for
    // every chunk; the counters are guarded by the pool's mutex.
    let destination: UnsafeMutableRawPointer
    let source: UnsafeRawPointer
    let count: Int
    let chunks: Int
    /// Helpers that may still join (the caller counts itself apart).
    var helpersWanted: Int
    /// The next chunk nobody has taken yet.
    var nextChunk = 0
    /// Chunks copied.
    var finished = 0

    init(destination: UnsafeMutableRawPointer, source: UnsafeRawPointer, count: Int, chunks: Int, helpers: Int) {
        (self.destination, self.source, self.count, self.chunks, helpersWanted) = (destination, source, count, chunks, helpers)
    }

    /// Where chunk `index` starts: an even share of the bytes, moved up to the next 4 KiB boundary of
    /// the destination so that no two threads write the same page (and each chunk streams whole pages).
    func start(ofChunk index: Int) -> Int {
        if index == 0 { return 0 }
        if index >= chunks { return count }
        let address = Int(bitPattern: destination) + count / chunks * index
        let aligned = (address + 4095) & ~4095
        return min(count, aligned - Int(bitPattern: destination))
    }

    /// Copies chunk `index`.
    func copy(chunk index: Int) {
        let (start, end) = (start(ofChunk: index), start(ofChunk: index + 1))
        if end > start { memmove(destination + start, source + start, end - start) }
    }
}

/// The process's copy helpers: threads started on first use (as many as the largest `threads - 1`
/// asked for, at most 15) and kept for the life of the process, sleeping on a condition variable
/// between copies. The calling thread takes chunks too and then waits only for chunks a helper is
/// still copying.
final class CopyPool: @unchecked Sendable {
    // @unchecked: every stored property is touched under `mutex`.
    static let shared = CopyPool()
    /// More helpers than cores would only queue for them.
    static let maximumHelpers = 15

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    /// Signalled when a job is posted (helpers wait on it).
    private let posted = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Broadcast when a job's last chunk is done (callers wait on it).
    private let completed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Jobs with chunks nobody has taken yet and room for another helper.
    private var open: [CopyJob] = []
    private var helpers: [PosixThread] = []

    private init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(posted, nil)
        pthread_cond_init(completed, nil)
        // A fork while another thread holds the mutex would leave it held for good in the child: hold
        // it across the fork, then the child starts over with no helpers (they stayed in the parent).
        pthread_atfork({ CopyPool.shared.lockForFork() }, { CopyPool.shared.unlockAfterFork() }, { CopyPool.shared.startOverInChild() })
    }

    private func lockForFork() { pthread_mutex_lock(mutex) }

    private func unlockAfterFork() { pthread_mutex_unlock(mutex) }

    /// In the child: the forking thread held the mutex; no helper exists, and no copy is under way
    /// (copies of other threads of the parent aren't either). Copies here take helpers anew.
    private func startOverInChild() {
        pthread_mutex_unlock(mutex)  // held by the forking thread, which is this one
        pthread_cond_init(posted, nil)
        pthread_cond_init(completed, nil)
        open = []
        helpers = []  // their threads don't exist here (never joined: dropping a PosixThread doesn't join)
    }

    /// Copies every chunk of `job`, with as many helpers as are free, and returns when all are copied.
    func copy(_ job: CopyJob) {
        pthread_mutex_lock(mutex)
        startHelpers(upTo: min(job.helpersWanted, Self.maximumHelpers))
        open.append(job)
        pthread_cond_broadcast(posted)
        copyChunks(of: job)
        while job.finished < job.chunks { pthread_cond_wait(completed, mutex) }
        pthread_mutex_unlock(mutex)
    }

    /// Takes the next chunk of `job` (mutex held); the job leaves `open` with its last chunk.
    private func take(from job: CopyJob) -> Int {
        let index = job.nextChunk
        job.nextChunk += 1
        if job.nextChunk == job.chunks { open.removeAll { $0 === job } }
        return index
    }

    /// Starts helpers until there are `count` (mutex held). A helper that can't be started leaves the
    /// work to the threads there are.
    private func startHelpers(upTo count: Int) {
        while helpers.count < count {
            guard let helper = try? PosixThread({ [self] in serve() }) else { return }
            helpers.append(helper)
        }
    }

    /// A helper's life: take a chunk of the first open job that still wants a helper, copy it, repeat
    /// while that job has chunks; sleep while no job is open.
    private func serve() {
        pthread_mutex_lock(mutex)
        while true {
            guard let job = open.first(where: { $0.helpersWanted > 0 }) else {
                pthread_cond_wait(posted, mutex)
                continue
            }
            job.helpersWanted -= 1
            copyChunks(of: job)
        }
    }

    /// Copies chunks of `job` until none is left to take (mutex held on entry and exit, released while
    /// copying); whoever finishes the last chunk wakes the caller waiting for it.
    private func copyChunks(of job: CopyJob) {
        while job.nextChunk < job.chunks {
            let index = take(from: job)
            pthread_mutex_unlock(mutex)
            job.copy(chunk: index)
            pthread_mutex_lock(mutex)
            job.finished += 1
            if job.finished == job.chunks { pthread_cond_broadcast(completed) }
        }
    }
}
