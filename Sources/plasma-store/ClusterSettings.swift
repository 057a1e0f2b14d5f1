import Glibc
import PlasmaClusterCore
import PlasmaToolSupport
import PlasmaTransfer

/// What the store's cluster flags say, checked: the directory is built from it, and the transfer plane
/// takes the token and the address from it.
struct ClusterSettings: Sendable {
    /// `etcd://…`, as given.
    var url: String
    /// This node's name (`--node-name`, else the host name).
    var nodeName: String
    /// `host:port` of this store's transfer listener.
    var transferAddress: String
    /// The cluster's shared secret, as the token file holds it (a final newline dropped).
    var token: [UInt8]
    /// Seconds of the etcd lease.
    var leaseTTL: Int
    /// The arena's size, registered as the node's capacity.
    var capacityBytes: Int64
    /// TLS files and the etcd user (`--etcd-*`), as given.
    var etcdSecurity: EtcdSecurityOptions
    /// Objects up to this size travel in their location (`--cluster-inline-max`).
    var inlineCopyMaximumBytes: Int

    /// The largest `--cluster-inline-max`: every node watches every location, so each inline byte goes
    /// to every node (as base64), and etcd keeps it while the location lives.
    static let maximumInlineCopyBytes = InlineCopy.maximumBytes

    /// This node as it registers.
    var node: ClusterNode { ClusterNode(name: nodeName, transferAddress: transferAddress, capacityBytes: capacityBytes) }

    static func isHostPort(_ text: String) -> Bool {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
              let port = Int(text[text.index(after: colon)...]) else { return false }
        return (1...65535).contains(port) && !text[..<colon].contains(where: \.isWhitespace)
    }

    /// Why `name` can't be a node name (it is the last component of etcd keys), or nil.
    static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "empty" }
        if name.count > 253 { return "longer than 253 characters" }
        if name.contains(where: { $0 == "/" || $0.isWhitespace || $0.isNewline }) { return "no '/' or blanks allowed" }
        return nil
    }

    /// Why `url` isn't an `etcd://host:port[,host:port...][/prefix]` (or `etcds://`) URL, or nil.
    static func urlProblem(_ url: String) -> String? {
        guard let scheme = ["etcd://", "etcds://"].first(where: url.hasPrefix) else {
            return "give etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (etcds:// for TLS)"
        }
        let hosts = url.dropFirst(scheme.count).prefix { $0 != "/" }.split(separator: ",", omittingEmptySubsequences: false)
        if hosts.isEmpty || hosts.contains(where: { !isHostPort(String($0)) }) { return "every endpoint must be HOST:PORT" }
        return nil
    }

    static func hostName() throws(ClusterSettingsError) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { throw .invalid("gethostname failed: give --node-name") }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Reads the token file under the one rule for token files, ``ClusterToken/readBytes(fromFile:)``
    /// (owner-only access, at least 16 bytes, a final line end dropped).
    static func readToken(_ path: String) throws(ClusterSettingsError) -> [UInt8] {
        do {
            return try ClusterToken.readBytes(fromFile: path)
        } catch {
            throw .invalid("--cluster-token-file: \(error)")
        }
    }
}

/// A cluster flag that can't be used, with the reason for the log.
enum ClusterSettingsError: Error, CustomStringConvertible {
    case invalid(String)

    var description: String {
        switch self { case .invalid(let message): message }
    }
}
