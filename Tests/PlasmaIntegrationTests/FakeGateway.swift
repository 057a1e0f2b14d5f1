#if Cluster
import Foundation
import Glibc

/// A loopback HTTP server that answers every request with one fixed JSON body, for the answers a real
/// etcd doesn't give on demand (a malformed page). Serves on its own thread until `close()`.
final class FakeGateway: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let thread: Thread

    init(answering body: String) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw Failure("socket: errno \(errno)") }
        var address = loopbackAddress(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(listener, pointer, length) == 0 && getsockname(listener, pointer, &length) == 0
            }
        } && listen(listener, 8) == 0
        guard listening else {
            Glibc.close(listener)
            throw Failure("listen on loopback: errno \(errno)")
        }
        self.listener = listener
        port = UInt16(bigEndian: address.sin_port)
        let reply = Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
        thread = Thread {
            while true {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }  // closed
                Self.answerEachRequest(on: connection, with: reply)
                Glibc.close(connection)
            }
        }
        thread.start()
    }

    /// Reads a request's head and its body (by Content-Length), writes `reply`, until the peer closes.
    private static func answerEachRequest(on connection: Int32, with reply: [UInt8]) {
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(connection, &chunk, chunk.count)
            guard count > 0 else { return }
            pending += chunk[..<count]
            while let headEnd = pending.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: pending[..<headEnd.lowerBound], as: UTF8.self).lowercased()
                let bodyLength = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                guard pending.count >= headEnd.upperBound + bodyLength else { break }
                pending.removeFirst(headEnd.upperBound + bodyLength)
                guard write(connection, reply, reply.count) == reply.count else { return }
            }
        }
    }

    /// Stops accepting (`shutdown` wakes the thread's `accept`).
    func close() {
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
    }
}
#endif
