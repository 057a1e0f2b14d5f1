import Glibc
import SystemPackage

/// Whole-file writes and reads for the store's `file://` external store: one file per spilled object.
/// Plain blocking I/O: the store spills and restores on its event-loop thread, like Arrow's store did.
public enum SpillFile {
    /// Creates a directory (and its parents) with mode 0700 if it doesn't exist.
    ///
    /// The corresponding C functions are `mkdir` and `open(O_DIRECTORY)`.
    public static func createDirectory(_ path: String) throws(SystemError) {
        var partial = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            partial += "/" + component
            if Glibc.mkdir(partial, 0o700) != 0, Glibc.errno != EEXIST {
                throw SystemError(operation: "mkdir(\(partial))", errno: Errno(rawValue: Glibc.errno))
            }
        }
        // It exists: make sure it is a directory we can open.
        do {
            try FileDescriptor.open(FilePath(path), .readOnly, options: [.directory, .closeOnExec]).close()
        } catch {
            throw SystemError(operation: "open(\(path))", errno: (error as? Errno) ?? .notDirectory)
        }
    }

    /// Writes `bytes` to a new file at `path` (mode 0600), replacing any old one.
    ///
    /// The corresponding C functions are `open`, `write` and `close`.
    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws(SystemError) {
        do {
            let file = try FileDescriptor.open(
                FilePath(path), .writeOnly, options: [.create, .truncate, .closeOnExec],
                permissions: [.ownerReadWrite])
            try file.closeAfter { _ = try file.writeAll(bytes) }
        } catch let errno as Errno {
            throw SystemError(operation: "write(\(path))", errno: errno)
        } catch {
            throw SystemError(operation: "write(\(path))", errno: .ioError)
        }
    }

    /// Fills `buffer` from the file at `path`; fails unless the file holds exactly that many bytes.
    ///
    /// The corresponding C functions are `open`, `read` and `close`.
    public static func read(_ path: String, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) {
        do {
            let file = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
            try file.closeAfter {
                var offset = 0
                while offset < buffer.count {
                    let count = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]))
                    guard count > 0 else { throw Errno.ioError }
                    offset += count
                }
            }
        } catch let errno as Errno {
            throw SystemError(operation: "read(\(path))", errno: errno)
        } catch {
            throw SystemError(operation: "read(\(path))", errno: .ioError)
        }
    }

    /// Removes the file; a missing one is fine.
    ///
    /// The corresponding C function is `unlink`.
    public static func remove(_ path: String) {
        _ = system_unlink(path)
    }
}
