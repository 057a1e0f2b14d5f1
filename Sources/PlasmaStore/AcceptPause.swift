import PlasmaPosix
import SystemPackage

/// Book-keeping for a listener that ran out of descriptors.
///
/// When accept fails for want of a descriptor (EMFILE, ENFILE, or kernel memory: ENOBUFS, ENOMEM), the
/// pending connection stays in the listen backlog, so the listening socket stays readable: accepting
/// again at once would fail again, as fast as the loop turns (it used to log 67,000 lines a second).
/// Instead the server takes the listener out of epoll and puts it back when a connection closes (a
/// descriptor freed) or, failing that, after `retryNanoseconds` (ENFILE frees when another process
/// closes something; a spill file may have been closed). An episode runs from the first failure until
/// the backlog is drained; it is logged once when it starts and once when it ends. Any other accept
/// failure is handled the same way, since retrying at once wouldn't cure it either (ECONNABORTED, a
/// client that gave up while queued, is not a failure: the server just goes on).
struct AcceptPause {
    static let retryNanoseconds: UInt64 = 1_000_000_000

    /// Errors that mean "no descriptor (or kernel memory) for now", not "something is broken" (for the log).
    static func isShortage(_ errno: Errno) -> Bool {
        errno == .tooManyOpenFiles || errno == .tooManyOpenFilesInSystem || errno == .noBufferSpace
            || errno == .noMemory
    }

    /// The listener is out of epoll.
    private(set) var isPaused = false
    /// When the paused listener is tried again even if no connection has closed.
    private(set) var retryAt: UInt64 = 0
    /// From the first failed accept until the backlog is drained.
    private(set) var episodeStart: UInt64?
    /// Accepts that failed in this episode (first attempts and retries alike).
    private(set) var failedAccepts = 0

    /// A failed accept; true when it starts an episode (the caller logs it).
    mutating func failed(now: UInt64) -> Bool {
        failedAccepts += 1
        isPaused = true
        retryAt = now + Self.retryNanoseconds
        guard episodeStart == nil else { return false }
        episodeStart = now
        return true
    }

    /// The listener is back in epoll.
    mutating func resumed() {
        isPaused = false
    }

    /// The backlog is empty: the episode (if any) ends. Its failed accepts and length, for the log.
    mutating func drained(now: UInt64) -> (failedAccepts: Int, nanoseconds: UInt64)? {
        guard let start = episodeStart else { return nil }
        defer {
            episodeStart = nil
            failedAccepts = 0
        }
        return (failedAccepts, now - start)
    }
}
