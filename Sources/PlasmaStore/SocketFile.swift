import Glibc
import PlasmaPosix
import SystemPackage

/// The listening socket and the file it is bound to.
///
/// Claiming replaces a stale socket file (no store answers on it), never steals a live store's socket,
/// and never deletes a path that isn't a socket. It refuses a directory anyone may write to without the
/// sticky bit: there, any user could rename our socket away and put theirs in its place. The socket
/// appears at `path` already listening with its mode and group (`UnixSocket.listenPublished`).
/// Removal deletes the file only if it is still the one we bound (same inode), so a store started later
/// on the same path keeps its socket.
struct SocketFile {
    let listener: UnixSocket
    let path: String
    /// Of the file bound at `path`; nil for a socket the service manager bound (SocketFile+Activation.swift).
    let inode: UInt64?

    /// - Parameter group: a group name, or a numeric gid that names no group; the socket file is given
    ///   to it. Looked up before anything at `path` is touched.
    static func claim(path: String, mode: UInt32, group: String? = nil) throws(ServerError) -> SocketFile {
        let gid = try group.map { (name) throws(ServerError) in try groupID(name) }
        try checkDirectory(UnixSocket.parentDirectory(of: path))
        if let existing = fileStatus(path) {
            guard existing.st_mode & S_IFMT == S_IFSOCK else { throw .notASocket(path: path) }
            if let live = try? UnixSocket.connect(path: path) {
                live.close()
                throw .socketInUse(path: path)
            }
            // Stale. If it can't go (another user's, in a sticky directory), say so rather than fail
            // later with a less helpful EEXIST.
            if unlink(path) != 0, errno != ENOENT {
                throw .system(SystemError(operation: "unlink(stale socket \(path))", errno: Errno(rawValue: errno)))
            }
        }
        do {
            let (listener, inode) = try UnixSocket.listenPublished(path: path, mode: mode, group: gid)
            return SocketFile(listener: listener, path: path, inode: inode)
        } catch {
            throw .system(error)
        }
    }

    func close() {
        listener.close()
        guard let inode else { return }  // not ours: the service manager's file outlives the store
        if let current = Self.fileStatus(path), UInt64(current.st_ino) == inode { unlink(path) }
    }

    /// World-writable without the sticky bit: anyone may delete or replace our socket file.
    private static func checkDirectory(_ directory: String) throws(ServerError) {
        var status = stat()
        guard stat(directory, &status) == 0 else { return }  // the bind names the problem
        if status.st_mode & S_IWOTH != 0, status.st_mode & S_ISVTX == 0 {
            throw .unsafeSocketDirectory(directory)
        }
    }

    private static func groupID(_ name: String) throws(ServerError) -> UInt32 {
        let found: UInt32?
        do {
            found = try SystemGroup.id(named: name)
        } catch {
            throw .system(error)
        }
        // As chgrp(1) does: a name first, then a number.
        guard let gid = found ?? UInt32(name) else { throw .unknownGroup(name) }
        return gid
    }

    private static func fileStatus(_ path: String) -> stat? {
        var status = stat()
        return lstat(path, &status) == 0 ? status : nil
    }
}
