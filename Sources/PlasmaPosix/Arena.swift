import CPlasma
import SystemPackage

/// The store's arena: a memfd (or an unlinked file in a directory), sized at start, optionally prefaulted.
///
/// `@unchecked Sendable` because every stored property is a `let` set in init and never changed, and the
/// arena is destroyed only in deinit, when no reference remains. The memory itself is shared by design.
public final class Arena: @unchecked Sendable {
    public struct Options: Sendable {
        /// Back the arena with 2 MiB hugepages (in a directory: the directory must be a hugetlbfs mount).
        /// Falls back to normal pages when none are available; see `hugepageFallback`.
        public var hugepages: Bool
        /// Fault every page in at start, so no create pays for a fresh page later.
        public var prefault: Bool
        /// nil: an anonymous memfd. Otherwise a file created in this directory and unlinked at once.
        public var directory: String?

        public init(hugepages: Bool = false, prefault: Bool = true, directory: String? = nil) {
            self.hugepages = hugepages
            self.prefault = prefault
            self.directory = directory
        }
    }

    public let descriptor: Int32
    public let base: UnsafeMutableRawPointer
    /// The size mapped: the requested size rounded up to the page in use.
    public let size: Int
    public let usesHugepages: Bool
    /// Why hugepages were not used although asked for (ENOMEM: none reserved); nil otherwise.
    public let hugepageFallback: Errno?
    /// How long prefaulting took; nil when not prefaulted.
    public let prefaultDuration: Duration?
    private let arena: plasma_arena_t

    /// Creates, sizes and maps the arena. A failure names the step, e.g. `mmap(arena of 4096 bytes)`.
    /// Prefaulting that runs out of memory fails with ENOMEM: a store that promises the size must have it.
    ///
    /// The corresponding C functions are `memfd_create` (or `mkstemp` and `unlink`), `ftruncate`, `mmap`
    /// and `madvise(MADV_POPULATE_WRITE)`, through `plasma_arena_create`.
    public init(size: Int, options: Options) throws(SystemError) {
        var flags: CInt = 0
        if options.hugepages { flags |= PLASMA_ARENA_HUGEPAGES }
        if options.prefault { flags |= PLASMA_ARENA_PREFAULT }
        var arena = plasma_arena_t()
        let result = system_arena_create(UInt64(max(size, 0)), flags, options.directory, &arena)
        if case .failure(let errno) = result {
            let step = arena.failed_step.map { String(cString: $0) } ?? "plasma_arena_create"
            let place = options.directory.map { " in \($0)" } ?? ""
            throw SystemError(operation: "\(step)(arena of \(size) bytes\(place))", errno: errno)
        }
        self.arena = arena
        descriptor = arena.fd
        base = arena.base
        self.size = Int(arena.size)
        usesHugepages = arena.hugepages != 0
        hugepageFallback = arena.hugepage_errno != 0 ? Errno(rawValue: arena.hugepage_errno) : nil
        prefaultDuration = options.prefault ? .nanoseconds(Int64(arena.prefault_ns)) : nil
    }

    /// The corresponding C functions are `munmap` and `close`, through `plasma_arena_destroy`.
    deinit {
        var arena = arena
        system_arena_destroy(&arena)
    }
}
