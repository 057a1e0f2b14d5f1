import Glibc

/// How a client copies caller bytes into the shared arena: large copies run in chunks on several
/// threads at once, because one core's `memcpy` doesn't reach the machine's memory bandwidth (Arrow's
/// Plasma client did the same with `parallel_memcopy`).
///
/// The clients use it for ``MutableObject/write(_:at:)``, ``AsyncMutableObject/write(_:at:)`` and the
/// `put(_:bytes:…)` of objects too large to travel inline. A copy of `threshold` bytes or more is cut into
/// chunks (boundaries on 4 KiB pages of the destination) that the calling thread and `threads - 1`
/// helpers take in turn; the helpers come from one small pool per process, started on first use and
/// kept (they sleep while nothing is copied). A copy that finds every helper busy with another copy does
/// the rest of its chunks itself, so copies never wait for each other. Overlapping ranges and smaller
/// copies are one `memmove` on the calling thread.
public struct ParallelCopy: Sendable, Hashable {
    /// Threads per copy, the calling thread included (1: a plain `memmove`, no helpers).
    public var threads: Int
    /// Copies of fewer bytes than this run on the calling thread alone: waking a helper costs tens of
    /// microseconds, which a copy of a few MiB doesn't win back.
    public var threshold: Int

    /// The most threads ``defaultThreads`` picks: two or three cores' copies already reach a socket's
    /// memory bandwidth on common servers; more only take cores from the application.
    public static let maximumDefaultThreads = 4

    /// One thread per online core, at most ``maximumDefaultThreads``.
    public static var defaultThreads: Int {
        min(maximumDefaultThreads, max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// The default threshold: 8 MiB.
    public static let defaultThreshold = 8 << 20

    /// ``defaultThreads`` threads for copies of ``defaultThreshold`` bytes and more: what clients use
    /// unless told otherwise.
    public static var `default`: ParallelCopy { ParallelCopy() }

    /// Every copy on the calling thread alone.
    public static let off = ParallelCopy(threads: 1)

    /// - Parameters:
    ///   - threads: threads per large copy, the calling thread included; less than 1 counts as 1.
    ///   - threshold: the smallest copy that uses more than one thread (at least one chunk per thread).
    public init(threads: Int = ParallelCopy.defaultThreads, threshold: Int = ParallelCopy.defaultThreshold) {
        self.threads = max(1, threads)
        self.threshold = max(0, threshold)
    }

    /// Copies `count` bytes from `source` to `destination`: in parallel chunks when `count` reaches the
    /// threshold and the ranges don't overlap, else one `memmove`. Returns when every byte is copied.
    ///
    /// The corresponding C function is `memmove` (per chunk).
    public func copy(into destination: UnsafeMutableRawPointer, from source: UnsafeRawPointer, count: Int) {
        guard count > 0 else { return }
        let (target, origin) = (UInt(bitPattern: destination), UInt(bitPattern: source))
        let overlapping = target < origin + UInt(count) && origin < target + UInt(count)
        let chunks = Self.chunks(count: count, threads: threads)
        guard threads > 1, count >= threshold, !overlapping, chunks > 1 else {
            memmove(destination, source, count)
            return
        }
        CopyPool.shared.copy(CopyJob(
            destination: destination, source: source, count: count, chunks: chunks, helpers: threads - 1))
    }

    /// Chunks per copy: four per thread, so that a thread the scheduler holds back leaves little for
    /// the others to wait on, and none smaller than 1 MiB (below that glibc's `memmove` changes method).
    /// Copies of ``largeChunk`` × 2 and more keep chunks of at least ``largeChunk``: glibc's `memmove`
    /// switches to non-temporal stores for copies that large, and a smaller chunk would lose them (on the
    /// reference VM, 1 GiB in chunks of 128 MiB copied at 0.8 of one thread's memmove; of 256 MiB, at 1.0).
    static func chunks(count: Int, threads: Int) -> Int {
        if count >= 2 * largeChunk { return max(1, min(threads * 4, count / largeChunk)) }
        return max(1, min(threads * 4, count / (1 << 20)))
    }

    /// glibc's threshold for non-temporal stores, rounded up (`x86_non_temporal_threshold`: 240 MiB on
    /// the reference VM, from its cache sizes; smaller on most hosts, where this only errs on the side of
    /// fewer, larger chunks).
    static let largeChunk = 256 << 20
}
