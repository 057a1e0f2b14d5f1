import Crypto
import Glibc

/// The cluster's shared secret: every store of a cluster reads the same one (`--cluster-token-file`),
/// and a transfer peer must prove it knows it (``TransferHandshake``). It is only ever a key of
/// HMAC-SHA256: never sent, logged or printed.
public struct ClusterToken: Sendable {
    /// Fewer bytes than this are refused: a token must not be guessable.
    public static let minimumBytes = 16
    /// A token file larger than this is refused: it is not a token file.
    public static let maximumFileBytes = 1 << 16

    let key: SymmetricKey

    /// A token from its bytes; fails with ``ClusterTokenError/tooShort(_:)`` below ``minimumBytes``.
    public init(bytes: some Collection<UInt8>) throws(ClusterTokenError) {
        guard bytes.count >= Self.minimumBytes else { throw .tooShort(bytes.count) }
        key = SymmetricKey(data: Array(bytes))
    }

    /// Reads the token from `path` (see ``readBytes(fromFile:)``, the one rule for token files).
    public static func read(fromFile path: String) throws(ClusterTokenError) -> ClusterToken {
        try ClusterToken(bytes: readBytes(fromFile: path))
    }

    /// The token file's bytes, with its final line end (trailing CR and LF bytes) dropped. Refused when
    /// it is not a regular file, when group or others have any access to it (a secret: `chmod 600`),
    /// when it is empty, over ``maximumFileBytes``, or holds fewer than ``minimumBytes`` bytes.
    public static func readBytes(fromFile path: String) throws(ClusterTokenError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path, String(cString: strerror(errno))) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .unreadable(path, String(cString: strerror(errno))) }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .notRegularFile(path) }
        guard status.st_mode & 0o077 == 0 else { throw .accessibleByOthers(path, mode: Int(status.st_mode & 0o777)) }
        var token: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = Glibc.read(fd, &chunk, chunk.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path, String(cString: strerror(errno)))
            }
            if count == 0 { break }
            token += chunk[..<count]
            if token.count > maximumFileBytes { throw .tooLarge(path) }
        }
        while let last = token.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { token.removeLast() }
        guard !token.isEmpty else { throw .empty(path) }
        guard token.count >= minimumBytes else { throw .fileTooShort(path, token.count) }
        return token
    }
}

/// Why a cluster token was refused.
public enum ClusterTokenError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file couldn't be opened or read: its path and the reason.
    case unreadable(String, String)
    /// The path is not a regular file (a directory, a device, ...).
    case notRegularFile(String)
    /// Group or others have some access to the file: its path and mode.
    case accessibleByOthers(String, mode: Int)
    /// The file holds nothing but (at most) a line end.
    case empty(String)
    /// The file is larger than ``ClusterToken/maximumFileBytes``.
    case tooLarge(String)
    /// The file's token has fewer than ``ClusterToken/minimumBytes`` bytes: the path and how many.
    case fileTooShort(String, Int)
    /// Fewer than ``ClusterToken/minimumBytes`` bytes: how many there were.
    case tooShort(Int)

    /// A sentence for the log or the terminal (never the token itself).
    public var description: String {
        let makeOne = "e.g. head -c 32 /dev/urandom | base64 >"
        return switch self {
        case .unreadable(let path, let reason): "cluster token file \(path) can't be read: \(reason)"
        case .notRegularFile(let path): "cluster token file \(path) is not a regular file"
        case .accessibleByOthers(let path, let mode):
            "cluster token file \(path) is accessible by group or others (mode \(String(mode, radix: 8))): run chmod 600 \(path)"
        case .empty(let path): "cluster token file \(path) is empty: put the cluster's shared secret in it (\(makeOne) \(path))"
        case .tooLarge(let path): "cluster token file \(path) is over \(ClusterToken.maximumFileBytes / 1024) KiB: is it the right file?"
        case .fileTooShort(let path, let count):
            "cluster token file \(path) holds \(count) bytes: a cluster token needs at least \(ClusterToken.minimumBytes) (\(makeOne) \(path))"
        case .tooShort(let count): "a cluster token needs at least \(ClusterToken.minimumBytes) bytes; it has \(count)"
        }
    }
}
