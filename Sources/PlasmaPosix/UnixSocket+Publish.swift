import Glibc

extension UnixSocket {
    /// A nonblocking, close-on-exec socket listening at `path` that appears there only once it has
    /// its group and mode: nobody can connect under the umask's bits or the creator's group, because
    /// there is no moment when the file is at `path` without them.
    ///
    /// How: bind in a new private directory beside `path` (mkdtemp: mode 0700, so only we can reach
    /// what is inside), chown, chmod and listen there, then hard-link the socket inode to `path` and
    /// drop the private name. A Unix socket is found through its inode, so the linked name reaches the
    /// listener, and link(2) never replaces an existing file: if anything appeared at `path` meanwhile,
    /// this fails with EEXIST instead of taking over someone else's socket. (fchmod on a socket
    /// descriptor changes the socket, not the file bind creates, so it can't be used instead.)
    ///
    /// The private directory is removed before returning, on success and on failure. When its path
    /// would not fit `sun_path` although `path` does, the bind goes through `/proc/self/fd/N/`.
    ///
    /// - Returns: the socket and the inode of the file at `path` (to recognise it later).
    ///
    /// The corresponding C functions are `mkdtemp`, `socket`, `bind`, `chown`, `chmod`, `listen`,
    /// `link`, `unlink` and `rmdir`.
    public static func listenPublished(
        path: String, mode: UInt32, group: UInt32? = nil, backlog: Int32 = 1024
    ) throws(SystemError) -> (socket: UnixSocket, inode: UInt64) {
        // The final path must fit: clients connect to it by name.
        guard path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw SystemError(operation: "bind(\(path))", errno: .fileNameTooLong)
        }
        let template = "\(parentDirectory(of: path))/.plasma-socket-XXXXXX"
        let privateDirectory = try system_mkdtemp(template).get("mkdtemp(\(template))")
        defer { _ = system_rmdir(privateDirectory) }
        var staging = privateDirectory + "/s"
        var handle: CInt?
        defer { if let handle { _ = system_close(handle) } }
        if staging.utf8.count >= MemoryLayout.size(ofValue: sockaddr_un().sun_path) {
            let fd = try system_open_directory_path(privateDirectory).get("open(\(privateDirectory))")
            handle = fd
            staging = "/proc/self/fd/\(fd)/s"
        }
        let socket = try listen(path: staging, mode: mode, group: group, backlog: backlog)
        defer { _ = system_unlink(staging) }
        do {
            var status = stat()
            _ = try system_lstat(staging, &status).get("lstat(\(staging))")
            _ = try system_link(staging, path).get("link(\(staging), \(path))")
            return (socket, UInt64(status.st_ino))
        } catch {
            socket.close()
            throw error
        }
    }

    /// The directory a socket path is in: "." for a bare name, "/" for a file at the root.
    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = path[..<slash]
        return parent.isEmpty ? "/" : String(parent)
    }
}
