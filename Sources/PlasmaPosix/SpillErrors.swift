import Glibc

/// Why the store won't use a directory for spill files.
public enum SpillDirectoryError: Error, CustomStringConvertible, Sendable {
    /// It can't be made or opened.
    case system(path: String, SystemError)
    /// Someone other than the store could replace what is in it (or it isn't what the path says).
    case unsafe(path: String, reason: String)
    /// The probe file couldn't be written: a read-only filesystem or directory, a full disk, ...
    case notWritable(path: String, SystemError)

    public var description: String {
        switch self {
        case .system(let path, let error): "spill directory \(path): \(error)"
        case .unsafe(let path, let reason): "spill directory \(path) \(reason)"
        case .notWritable(let path, let error): "spill directory \(path) is not writable: \(error)"
        }
    }
}

/// Why one spill file couldn't be written or restored.
public enum SpillFileError: Error, CustomStringConvertible, Sendable {
    /// A call failed: a full disk, a read-only filesystem, a missing file.
    case system(SystemError)
    /// Something the store didn't put there is at the name: a symlink, a FIFO, a directory, another
    /// user's file, or any entry at all where a new file would go. It is never followed or replaced.
    case refused(name: String, reason: String)
    /// A regular file of the store's, but not the one it wrote for this object.
    case damaged(name: String, Damage)

    public enum Damage: Error, CustomStringConvertible, Sendable, Equatable {
        case size(expected: Int, actual: Int)
        case header(String)
        case checksum(expected: UInt64, actual: UInt64)

        public var description: String {
            switch self {
            case .size(let expected, let actual): "\(actual) bytes where \(expected) were written"
            case .header(let reason): "header: \(reason)"
            case .checksum(let expected, let actual):
                "checksum \(String(actual, radix: 16)) where \(String(expected, radix: 16)) was written"
            }
        }
    }

    public var description: String {
        switch self {
        case .system(let error): error.description
        case .refused(let name, let reason): "\(name): \(reason); refused"
        case .damaged(let name, let damage): "\(name) is damaged: \(damage)"
        }
    }
}
