import Glibc

/// The one rule for files that hold a secret (the cluster token, the etcd password): a regular file that
/// only its owner may access, read whole, its final line end dropped.
public enum SecretFile {
    /// The file's bytes, with its final line end (trailing CR and LF bytes) dropped. Refused when it is
    /// not a regular file, when group or others have any access to it (`chmod 600`), when it holds
    /// nothing but a line end, or more than `maximumBytes`.
    public static func read(_ path: String, maximumBytes: Int) throws(SecretFileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path, String(cString: strerror(errno))) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .unreadable(path, String(cString: strerror(errno))) }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .notRegularFile(path) }
        guard status.st_mode & 0o077 == 0 else { throw .accessibleByOthers(path, mode: Int(status.st_mode & 0o777)) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = Glibc.read(fd, &chunk, chunk.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path, String(cString: strerror(errno)))
            }
            if count == 0 { break }
            bytes += chunk[..<count]
            if bytes.count > maximumBytes { throw .tooLarge(path, maximumBytes: maximumBytes) }
        }
        while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { bytes.removeLast() }
        guard !bytes.isEmpty else { throw .empty(path) }
        return bytes
    }
}

/// Why a secret file was refused; the descriptions name the file, never its contents.
public enum SecretFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file couldn't be opened or read: its path and the reason.
    case unreadable(String, String)
    /// The path is not a regular file (a directory, a device, ...).
    case notRegularFile(String)
    /// Group or others have some access to the file: its path and mode.
    case accessibleByOthers(String, mode: Int)
    /// The file holds nothing but (at most) a line end.
    case empty(String)
    /// The file is larger than a secret of its kind may be.
    case tooLarge(String, maximumBytes: Int)

    /// A sentence for the log or the terminal.
    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "\(path) can't be read: \(reason)"
        case .notRegularFile(let path): "\(path) is not a regular file"
        case .accessibleByOthers(let path, let mode):
            "\(path) is accessible by group or others (mode \(String(mode, radix: 8))): run chmod 600 \(path)"
        case .empty(let path): "\(path) is empty"
        case .tooLarge(let path, let maximum): "\(path) is over \(maximum) bytes: is it the right file?"
        }
    }
}
