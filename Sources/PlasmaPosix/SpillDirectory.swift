import Glibc

/// The directory of the `file://` external store, held open by descriptor: every spill file is
/// created, opened, renamed and removed relative to it (`openat`, `renameat2`, `unlinkat`), always
/// with `O_NOFOLLOW`, so that what the path names later, or a symlink planted at a file's name,
/// can't send the store's reads or writes anywhere else.
///
/// A new file is written under a temporary name made with `O_EXCL`, then renamed to its name only if
/// nothing is there (RENAME_NOREPLACE): a file under its final name is always complete, and an entry
/// the store didn't make is never followed or replaced. No fsync: spill files live only as long as
/// the store process (removed when an object comes back, is deleted, or the store stops; never read
/// after a restart), so they need to survive neither a crash nor a power loss, and the page cache
/// already gives a later read of the running system what was written.
///
/// Plain blocking I/O, safe from two threads at once (every call is relative to the held descriptor):
/// the store writes and removes files on its I/O thread and restores on its event-loop thread.
public final class SpillDirectory {
    public let path: String
    private let descriptor: CInt
    /// The store's effective uid: the only owner its directory and files may have.
    private let owner: uid_t

    /// Creates the directory (and missing parents) with mode 0700, or checks the one there: it must
    /// be the store's own, not a symlink, and not writable by group or others; then proves it
    /// writable by writing and removing a probe file.
    ///
    /// The corresponding C functions are `mkdir`, `open`, `fstat` (`lstat` to explain a refusal), `openat`,
    /// `write` and `unlinkat`.
    public init(path: String) throws(SpillDirectoryError) {
        let path = Self.normalized(path)
        let owner = system_geteuid()
        try Self.createMissing(path)
        let descriptor = try Self.openChecked(path, owner: owner)
        do throws(SpillFileError) {
            // Real bytes, not just an entry: a full disk still lets an empty file be made.
            let probe = ".plasma-spill-probe.\(system_getpid())"
            _ = system_unlinkat(descriptor, probe, 0)  // one left by a crashed store of the same pid
            let zeros = ScratchBytes(count: SpillHeader.byteCount)
            defer { zeros.free() }
            try Self.createFile(probe, in: descriptor, writing: [UnsafeRawBufferPointer(zeros.bytes)])
            _ = system_unlinkat(descriptor, probe, 0)
        } catch {
            _ = system_close(descriptor)
            guard case .system(let failure) = error else {
                throw .notWritable(path: path, SystemError(operation: "openat(probe file)", errno: .fileExists))
            }
            throw .notWritable(path: path, failure)
        }
        self.path = path
        self.descriptor = descriptor
        self.owner = owner
    }

    deinit { _ = system_close(descriptor) }

    /// Writes a new file `name` holding a header (`key`, sizes, checksum) and `body` (data then
    /// metadata). Fails, leaving it alone, when anything is at `name` or at its temporary name.
    ///
    /// The corresponding C functions are `openat(O_CREAT|O_EXCL|O_NOFOLLOW)`, `write`, `close` and
    /// `renameat2(RENAME_NOREPLACE)`.
    public func write(_ name: String, key: [UInt8], dataSize: Int, body: UnsafeRawBufferPointer) throws(SpillFileError) {
        precondition(Self.isPlainName(name) && (0...body.count).contains(dataSize))
        let header = SpillHeader(key: key, dataSize: dataSize, metadataSize: body.count - dataSize, checksum: XXH64.hash(body))
        let temporary = Self.temporaryName(for: name)
        let headerBytes = ScratchBytes(copying: header.bytes)
        defer { headerBytes.free() }
        try Self.createFile(temporary, in: descriptor, writing: [UnsafeRawBufferPointer(headerBytes.bytes), body])
        switch system_renameat_noreplace(descriptor, temporary, name) {
        case .success: return
        case .failure(let errno):
            _ = system_unlinkat(descriptor, temporary, 0)
            if errno == .fileExists { throw .refused(name: name, reason: "something is there already (left alone)") }
            throw .system(SystemError(operation: "renameat2(\(temporary), \(name))", errno: errno))
        }
    }

    /// Fills `body` from file `name`, which must be a regular file of the store's, of exactly header +
    /// `body.count` bytes, whose header names `key` and these sizes and whose checksum matches.
    ///
    /// The corresponding C functions are `openat(O_NOFOLLOW|O_NONBLOCK)`, `fstat`, `read` and `close`.
    public func read(_ name: String, key: [UInt8], dataSize: Int, into body: UnsafeMutableRawBufferPointer) throws(SpillFileError) {
        precondition(Self.isPlainName(name) && (0...body.count).contains(dataSize))
        // O_NONBLOCK: opening a FIFO planted at the name must not block the store.
        let file: CInt
        switch system_openat(descriptor, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0) {
        case .success(let fd): file = fd
        case .failure(.tooManySymbolicLinkLevels): throw .refused(name: name, reason: "a symbolic link")
        case .failure(let errno): throw .system(SystemError(operation: "openat(\(name))", errno: errno))
        }
        defer { _ = system_close(file) }
        var status = stat()
        if case .failure(let errno) = system_fstat(file, &status) {
            throw .system(SystemError(operation: "fstat(\(name))", errno: errno))
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw .refused(name: name, reason: "not a regular file but a \(Self.kind(status.st_mode))")
        }
        guard status.st_uid == owner else { throw .refused(name: name, reason: "owned by uid \(status.st_uid), not the store's \(owner)") }
        guard status.st_nlink == 1 else { throw .refused(name: name, reason: "\(status.st_nlink) hard links to it") }
        let expectedSize = SpillHeader.byteCount + body.count
        guard status.st_size == expectedSize else { throw .damaged(name: name, .size(expected: expectedSize, actual: Int(status.st_size))) }

        let raw = ScratchBytes(count: SpillHeader.byteCount)
        defer { raw.free() }
        try Self.readAll(file, name, into: raw.bytes)
        let header: SpillHeader
        switch SpillHeader.decode(UnsafeRawBufferPointer(raw.bytes)) {
        case .success(let decoded): header = decoded
        case .failure(let damage): throw .damaged(name: name, damage)
        }
        guard header.key == key else { throw .damaged(name: name, .header("holds another object's id")) }
        guard header.dataSize == dataSize, header.metadataSize == body.count - dataSize else {
            throw .damaged(name: name, .header("sizes \(header.dataSize) + \(header.metadataSize), not \(dataSize) + \(body.count - dataSize)"))
        }
        try Self.readAll(file, name, into: body)
        let checksum = XXH64.hash(UnsafeRawBufferPointer(body))
        guard checksum == header.checksum else { throw .damaged(name: name, .checksum(expected: header.checksum, actual: checksum)) }
    }

    /// Removes the entry `name` (a symlink there is removed, not followed); a missing one is fine.
    ///
    /// The corresponding C function is `unlinkat`.
    public func remove(_ name: String) {
        _ = system_unlinkat(descriptor, name, 0)
    }

    // MARK: Helpers

    /// Where `write` puts a file before renaming it: hidden, and per process, so that two stores
    /// sharing a directory by mistake don't collide.
    static func temporaryName(for name: String) -> String { ".\(name).\(system_getpid()).tmp" }

    /// One path component: what `openat` must not resolve into another directory.
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/")
    }

    /// Without trailing slashes, which would make `O_NOFOLLOW` follow a symlink.
    static func normalized(_ path: String) -> String {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    private static func createMissing(_ path: String) throws(SpillDirectoryError) {
        var partial = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            partial += "/" + component
            if case .failure(let errno) = system_mkdir(partial, 0o700), errno != .fileExists {
                throw .system(path: path, SystemError(operation: "mkdir(\(partial))", errno: errno))
            }
        }
    }

    /// Opens the directory itself (not a symlink to one) and checks owner and mode on what was opened,
    /// so that swapping the path afterwards changes nothing.
    private static func openChecked(_ path: String, owner: uid_t) throws(SpillDirectoryError) -> CInt {
        let descriptor: CInt
        switch system_open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) {
        case .success(let fd): descriptor = fd
        case .failure(let errno):
            // With O_DIRECTORY a symlink fails as ENOTDIR; it is refused either way, lstat only names why.
            var status = stat()
            if case .success = system_lstat(path, &status), status.st_mode & S_IFMT == S_IFLNK {
                throw .unsafe(path: path, reason: "is a symbolic link: give the directory itself")
            }
            throw .system(path: path, SystemError(operation: "open(\(path))", errno: errno))
        }
        var status = stat()
        if case .failure(let errno) = system_fstat(descriptor, &status) {
            _ = system_close(descriptor)
            throw .system(path: path, SystemError(operation: "fstat(\(path))", errno: errno))
        }
        if status.st_uid != owner {
            _ = system_close(descriptor)
            throw .unsafe(path: path, reason: "belongs to uid \(status.st_uid), not to the store's uid \(owner): its owner could plant or swap spill files; use a directory of the store's own, or a new path the store creates")
        }
        if status.st_mode & 0o022 != 0 {
            _ = system_close(descriptor)
            throw .unsafe(path: path, reason: "is writable by group or others (mode \(String(status.st_mode & 0o7777, radix: 8))): they could plant or swap spill files; chmod go-w it, or use a new path the store creates (mode 700)")
        }
        return descriptor
    }

    /// Creates `name` with O_EXCL (mode 0600) and writes `parts` to it; on a failed write the new file
    /// is removed. An entry already at `name` is refused, never opened.
    private static func createFile(_ name: String, in directory: CInt, writing parts: [UnsafeRawBufferPointer]) throws(SpillFileError) {
        let file: CInt
        switch system_openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) {
        case .success(let fd): file = fd
        case .failure(.fileExists): throw .refused(name: name, reason: "something is there already (left alone)")
        case .failure(let errno): throw .system(SystemError(operation: "openat(\(name), O_CREAT|O_EXCL)", errno: errno))
        }
        do throws(SpillFileError) {
            for part in parts { try writeAll(file, name, part) }
        } catch {
            _ = system_close(file)
            _ = system_unlinkat(directory, name, 0)
            throw error
        }
        // close can report a failed write-back (e.g. on NFS).
        if case .failure(let errno) = system_close(file) {
            _ = system_unlinkat(directory, name, 0)
            throw .system(SystemError(operation: "close(\(name))", errno: errno))
        }
    }

    private static func writeAll(_ file: CInt, _ name: String, _ bytes: UnsafeRawBufferPointer) throws(SpillFileError) {
        var offset = 0
        while offset < bytes.count {
            switch system_write(file, UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            case .success(let count) where count > 0: offset += count
            case .success: throw .system(SystemError(operation: "write(\(name))", errno: .ioError))
            case .failure(let errno): throw .system(SystemError(operation: "write(\(name))", errno: errno))
            }
        }
    }

    private static func readAll(_ file: CInt, _ name: String, into buffer: UnsafeMutableRawBufferPointer) throws(SpillFileError) {
        var offset = 0
        while offset < buffer.count {
            switch system_read(file, UnsafeMutableRawBufferPointer(rebasing: buffer[offset...])) {
            case .success(let count) where count > 0: offset += count
            case .success:  // shrank since fstat
                throw .system(SystemError(operation: "read(\(name)) (end of file before its size)", errno: .ioError))
            case .failure(let errno): throw .system(SystemError(operation: "read(\(name))", errno: errno))
            }
        }
    }

    private static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: "directory"
        case S_IFIFO: "FIFO"
        case S_IFSOCK: "socket"
        case S_IFCHR, S_IFBLK: "device"
        default: "special file"
        }
    }
}

/// A small zeroed heap buffer, for header-sized I/O without closures (which lose typed throws).
private struct ScratchBytes {
    let bytes: UnsafeMutableRawBufferPointer

    init(count: Int) {
        bytes = .allocate(byteCount: count, alignment: 8)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }

    init(copying source: [UInt8]) {
        self.init(count: source.count)
        bytes.copyBytes(from: source)
    }

    func free() { bytes.deallocate() }
}
