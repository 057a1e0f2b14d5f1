import Glibc
import PlasmaPosix

/// The listening socket and the file it is bound to.
///
/// Claiming replaces a stale socket file (no store answers on it), never steals a live store's socket,
/// and never deletes a path that isn't a socket. Removal deletes the file only if it is still the one we
/// bound (same inode), so a store started later on the same path keeps its socket.
struct SocketFile {
    let listener: UnixSocket
    let path: String
    private let inode: ino_t

    /// - Parameter group: a group name, or a numeric gid that names no group; the socket file is given
    ///   to it. Looked up before anything at `path` is touched.
    static func claim(path: String, mode: UInt32, group: String? = nil) throws(ServerError) -> SocketFile {
        let gid = try group.map { (name) throws(ServerError) in try groupID(name) }
        if let existing = fileStatus(path) {
            guard existing.st_mode & S_IFMT == S_IFSOCK else { throw .notASocket(path: path) }
            if let live = try? UnixSocket.connect(path: path) {
                live.close()
                throw .socketInUse(path: path)
            }
            unlink(path)
        }
        let listener: UnixSocket
        do {
            listener = try UnixSocket.listen(path: path, mode: mode, group: gid)
        } catch {
            throw .system(error)
        }
        return SocketFile(listener: listener, path: path, inode: fileStatus(path)?.st_ino ?? 0)
    }

    func close() {
        listener.close()
        if let current = Self.fileStatus(path), current.st_ino == inode { unlink(path) }
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
