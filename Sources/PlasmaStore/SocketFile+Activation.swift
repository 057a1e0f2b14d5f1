import PlasmaPosix

extension SocketFile {
    /// A listener the service manager bound and passed in (socket activation). Its file belongs to the
    /// manager, which keeps it across restarts of the store so that connections queue while none runs:
    /// closing the store closes the descriptor only.
    init(adopting listener: UnixSocket, path: String) {
        self.init(listener: listener, path: path, inode: nil)
    }
}
