import PlasmaPosix

/// Why the store could not start.
public enum ServerError: Error, CustomStringConvertible {
    case system(SystemError)
    case socketInUse(path: String)
    case notASocket(path: String)
    /// `--socket-group` names no group.
    case unknownGroup(String)
    case insufficientMemory(requested: Int, available: Int)
    /// `--external-store` is malformed or its directory can't be made.
    case invalidExternalStore(String)
    /// The socket's directory is writable by everyone and not sticky: anyone could swap the socket.
    case unsafeSocketDirectory(String)

    public var description: String {
        switch self {
        case .system(let error): error.description
        case .socketInUse(let path):
            "a store is already serving on \(path); stop it first or choose another path with --socket"
        case .notASocket(let path):
            "\(path) exists and is not a socket; refusing to replace it (choose another path with --socket)"
        case .unknownGroup(let name):
            "no group named '\(name)' (--socket-group takes a group name from the group database, or a gid)"
        case .insufficientMemory(let requested, let available):
            "an arena of \(requested) bytes can't be prefaulted: the machine has \(available) bytes available (use a smaller --memory, or --no-prefault to fault pages in as they are used)"
        case .invalidExternalStore(let reason): "invalid --external-store \(reason)"
        case .unsafeSocketDirectory(let directory):
            "refusing to put the socket in \(directory): anyone may write there and it has no sticky bit, so any user could replace the socket with their own (use a directory only the store's user can write, e.g. $XDG_RUNTIME_DIR, or chmod +t \(directory))"
        }
    }
}
