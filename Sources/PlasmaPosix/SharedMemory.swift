import SystemPackage

/// A mapping of a shared-memory fd: the client side of the arena.
///
/// `@unchecked Sendable` because every stored property is a `let` set in init and never changed, and
/// the mapping is released only in deinit, when no reference remains. The memory it points at is shared
/// with other processes by design; ordering access to it is the protocol's job, not this type's.
public final class SharedMemoryMapping: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let size: Int
    public let writable: Bool

    /// Maps `size` bytes of `descriptor` MAP_SHARED, read-write or read-only, optionally prefaulted
    /// (MAP_POPULATE). The descriptor may be closed afterwards; the mapping keeps the memory alive.
    ///
    /// The corresponding C function is `mmap`.
    public init(descriptor: Int32, size: Int, writable: Bool, populate: Bool) throws(SystemError) {
        base = try system_map_shared(descriptor, size, writable: writable, populate: populate)
            .get("mmap(fd \(descriptor), \(size) bytes, \(writable ? "read-write" : "read-only"))")
        self.size = size
        self.writable = writable
    }

    /// The corresponding C function is `munmap`.
    deinit {
        system_unmap(base, size)
    }
}

/// The system's normal page size.
public enum PageSize {
    /// The corresponding C function is `sysconf(_SC_PAGESIZE)`.
    public static var current: Int { system_page_size() }
}

/// The machine's physical memory.
public enum PhysicalMemory {
    /// The corresponding C function is `sysconf(_SC_PHYS_PAGES)` (times the page size); 0 when unknown.
    public static var bytes: Int { system_physical_pages() * system_page_size() }
}
