import Crypto
import PlasmaClusterCore

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
        let token: [UInt8]
        do {
            token = try SecretFile.read(path, maximumBytes: maximumFileBytes)
        } catch {
            switch error {
            case .unreadable(let path, let reason): throw .unreadable(path, reason)
            case .notRegularFile(let path): throw .notRegularFile(path)
            case .accessibleByOthers(let path, let mode): throw .accessibleByOthers(path, mode: mode)
            case .empty(let path): throw .empty(path)
            case .tooLarge(let path, _): throw .tooLarge(path)
            }
        }
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
