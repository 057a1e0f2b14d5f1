import Glibc
import PlasmaClusterCore
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

    /// Why `url` isn't an `etcd://host:port[,host:port...][/prefix]` URL, or nil.
    static func urlProblem(_ url: String) -> String? {
        guard url.hasPrefix("etcd://") else { return "give etcd://HOST:PORT[,HOST:PORT...][/PREFIX]" }
        let hosts = url.dropFirst("etcd://".count).prefix { $0 != "/" }.split(separator: ",", omittingEmptySubsequences: false)
        if hosts.isEmpty || hosts.contains(where: { !isHostPort(String($0)) }) { return "every endpoint must be HOST:PORT" }
        return nil
    }

    static func hostName() throws(ClusterSettingsError) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { throw .invalid("gethostname failed: give --node-name") }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Reads the token file: refused when group or others may read or write it, or when it is empty.
    static func readToken(_ path: String) throws(ClusterSettingsError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .invalid("cannot open --cluster-token-file \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            throw .invalid("--cluster-token-file \(path) is not a regular file")
        }
        guard status.st_mode & 0o077 == 0 else {
            throw .invalid("--cluster-token-file \(path) is accessible by group or others (mode \(String(status.st_mode & 0o777, radix: 8))): run chmod 600 \(path)")
        }
        var token: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count < 0 { throw .invalid("cannot read --cluster-token-file \(path): \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            token += chunk[..<count]
            if token.count > 1 << 16 { throw .invalid("--cluster-token-file \(path) is over 64 KiB: is it the right file?") }
        }
        while let last = token.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { token.removeLast() }
        guard !token.isEmpty else { throw .invalid("--cluster-token-file \(path) is empty: put the cluster's shared secret in it") }
        guard token.count >= ClusterToken.minimumBytes else {
            throw .invalid("--cluster-token-file \(path) holds \(token.count) bytes: a cluster token needs at least \(ClusterToken.minimumBytes) (e.g. head -c 32 /dev/urandom | base64 > \(path))")
        }
        return token
    }
}

/// A cluster flag that can't be used, with the reason for the log.
enum ClusterSettingsError: Error, CustomStringConvertible {
    case invalid(String)

    var description: String {
        switch self { case .invalid(let message): message }
    }
}
