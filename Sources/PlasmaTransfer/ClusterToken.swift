import Crypto
import Foundation

/// The cluster's shared secret: every store of a cluster reads the same one (`--cluster-token-file`),
/// and a transfer peer must prove it knows it (``TransferHandshake``). It is only ever a key of
/// HMAC-SHA256: never sent, logged or printed.
public struct ClusterToken: Sendable {
    /// Fewer bytes than this are refused: a token must not be guessable.
    public static let minimumBytes = 16

    let key: SymmetricKey

    /// A token from its bytes; fails with ``ClusterTokenError/tooShort(_:)`` below ``minimumBytes``.
    public init(bytes: some Collection<UInt8>) throws(ClusterTokenError) {
        guard bytes.count >= Self.minimumBytes else { throw .tooShort(bytes.count) }
        key = SymmetricKey(data: Array(bytes))
    }

    /// Reads the token from `path`: its contents with surrounding whitespace (a final newline) trimmed.
    /// Fails when the file can't be read, is readable or writable by others than its owner and group
    /// (a secret must not be world-readable), or holds fewer than ``minimumBytes`` bytes.
    public static func read(fromFile path: String) throws(ClusterTokenError) -> ClusterToken {
        let attributes: [FileAttributeKey: Any]
        let data: Data
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path, "\(error)")
        }
        if let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o006 != 0 {
            throw .accessibleByOthers(path, mode: mode)
        }
        let whitespace: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]
        let bytes = Array(data)
        let start = bytes.firstIndex { !whitespace.contains($0) } ?? bytes.endIndex
        let end = bytes.lastIndex { !whitespace.contains($0) }.map { $0 + 1 } ?? start
        return try ClusterToken(bytes: bytes[start..<max(start, end)])
    }
}

/// Why a cluster token was refused.
public enum ClusterTokenError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file couldn't be read: its path and the reason.
    case unreadable(String, String)
    /// Others than the owner and group may read or write the file: its path and mode.
    case accessibleByOthers(String, mode: Int)
    /// Fewer than ``ClusterToken/minimumBytes`` bytes: how many there were.
    case tooShort(Int)

    /// A sentence for the log or the terminal (never the token itself).
    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "cluster token file \(path) can't be read: \(reason)"
        case .accessibleByOthers(let path, let mode):
            "cluster token file \(path) is accessible by others (mode \(String(mode, radix: 8))): chmod o-rwx it"
        case .tooShort(let count): "a cluster token needs at least \(ClusterToken.minimumBytes) bytes; it has \(count)"
        }
    }
}
