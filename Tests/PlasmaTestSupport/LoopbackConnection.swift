import Glibc

/// A TCP connection to `127.0.0.1:port` made from `address`, another of this host's loopback addresses
/// (any of 127.0.0.0/8): how a test plays peers at many addresses without root. Reads time out after
/// 30 s rather than hang. The descriptor is the caller's to close; nil (and `errno`) if it failed.
public func loopbackConnection(from address: String, toPort port: UInt16) -> Int32? {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return nil }
    var timeout = timeval(tv_sec: 30, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    func endpoint(_ text: String, _ port: UInt16) -> sockaddr_in {
        var endpoint = sockaddr_in()
        endpoint.sin_family = sa_family_t(AF_INET)
        endpoint.sin_port = port.bigEndian
        inet_pton(AF_INET, text, &endpoint.sin_addr)
        return endpoint
    }
    var local = endpoint(address, 0), remote = endpoint("127.0.0.1", port)
    let size = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, size) } }
    let connected = bound == 0 && withUnsafePointer(to: &remote) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, size) }
    } == 0
    guard connected else {
        let saved = errno
        close(descriptor)
        errno = saved
        return nil
    }
    return descriptor
}
