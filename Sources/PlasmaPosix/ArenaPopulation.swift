import CPlasma
import SystemPackage

/// Faults the arena's pages in on a background thread, low addresses first, while the store serves.
///
/// A store that prefaulted before answering took seconds per gigabyte to start (5.8 s at 2 GiB on a
/// 2-core VM); populating afterwards lets it answer at once. Population changes no byte
/// (`plasma_populate_range`), so clients may write anywhere meanwhile: a page they touch first they
/// fault in themselves, as with `--no-prefault`. The thread runs at nice +10 and with every signal
/// blocked; it adds 1 to `progress` after each chunk and once more when it ends, so the event loop can
/// follow it (`populatedBytes`, `isFinished`) without polling.
///
/// `@unchecked Sendable`: the C side keeps its counters in atomics, and `stop()` is idempotent and
/// called by the owner only.
public final class ArenaPopulation: @unchecked Sendable {
    /// Bytes populated per step, between two progress signals and two checks for `stop()`.
    public static let defaultChunk = 64 << 20

    /// The arena's size: where population ends.
    public let size: Int
    private var populator: OpaquePointer?
    /// What the thread reported last, kept when `stop()` frees it.
    private var final: (bytes: Int, failure: Errno?, elapsed: Duration) = (0, nil, .zero)
    private let arena: Arena  // kept alive (mapped) for as long as the thread touches it

    /// Starts the thread on the whole of `arena`.
    ///
    /// The corresponding C functions are `pthread_create`, `setpriority` and, on the thread,
    /// `madvise(MADV_POPULATE_WRITE)` and `write` (to `progress`), through `plasma_populator_start`.
    public init(arena: Arena, progress: EventFD, chunk: Int = ArenaPopulation.defaultChunk) throws(SystemError) {
        self.arena = arena
        size = arena.size
        let page = arena.usesHugepages ? 2 << 20 : PageSize.current
        populator = try system_populator_start(arena.base, arena.size, chunk: chunk, page: page, notify: progress.rawValue)
            .get("pthread_create(arena population)")
    }

    /// Bytes from the start of the arena that are populated; `size` once done.
    public var populatedBytes: Int {
        guard let populator else { return final.bytes }
        return Int(plasma_populator_done_bytes(populator))
    }

    /// Whether the thread has ended: everything populated, stopped, or failed (`failure`).
    public var isFinished: Bool {
        guard let populator else { return true }
        return plasma_populator_finished(populator) != 0
    }

    /// Why population ended early (ENOMEM: the machine ran out of memory), nil otherwise.
    public var failure: Errno? {
        guard let populator else { return final.failure }
        let err = plasma_populator_errno(populator)
        return err == 0 ? nil : Errno(rawValue: err)
    }

    /// From start to end, or to now while it runs.
    public var elapsed: Duration {
        guard let populator else { return final.elapsed }
        return .nanoseconds(Int64(plasma_populator_elapsed_ns(populator)))
    }

    /// Ends the thread after its current chunk and waits for it; afterwards the arena may be unmapped.
    public func stop() {
        guard let running = populator else { return }
        system_populator_stop(running)  // joined: the figures are final from here on
        final = (populatedBytes, failure, elapsed)
        populator = nil
        system_populator_free(running)
    }

    deinit {
        stop()
    }
}
