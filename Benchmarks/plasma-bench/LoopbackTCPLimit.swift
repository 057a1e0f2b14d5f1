import Dispatch
import Foundation
import PlasmaPosix

/// The machine's loopback TCP bandwidth, as issue #15 defines the transfer rows' limit: `sendfile` from a
/// populated memfd on one thread → `recv` into a populated memfd mapping on another, over one TCP
/// connection on 127.0.0.1 kept for every sample (as the puller keeps its connection to a peer). No
/// request, no checksum: what the transfer plane would reach if it cost nothing of its own. With
/// `send: true`, the sender `send`s from its mapping of the memfd instead (the other way the transfer
/// server can send).
final class LoopbackTCPLimit {
    private let source: Arena
    private let destination: UnsafeMutableRawBufferPointer
    private let sender: TCPSocket
    private let receiver: TCPSocket
    private let senderThread: PosixThread
    /// (size, send instead of sendfile) per sample; `nil` ends the thread.
    private let orders = OrderQueue()

    /// A connection between `source` (whose memfd is sent from offset 0) and `destination` (received
    /// into from its start); both populated by the caller.
    init(source: Arena, destination: UnsafeMutableRawBufferPointer) throws {
        self.source = source
        self.destination = destination
        let (listener, port) = try TCPSocket.listen(on: TCPEndpoint(host: "127.0.0.1", port: 0), backlog: 1)
        defer { listener.close() }
        sender = try TCPSocket.connect(to: TCPEndpoint(host: "127.0.0.1", port: port), timeout: .seconds(10))
        receiver = try listener.accept().socket
        let (sender, descriptor, orders) = (sender, source.descriptor, orders)
        let mapping = SourceMapping(bytes: UnsafeRawBufferPointer(start: source.base, count: source.size))
        senderThread = try PosixThread {
            while let (size, send) = orders.next() {
                if send {
                    guard (try? sender.sendAll(UnsafeRawBufferPointer(rebasing: mapping.bytes[0..<size]))) != nil else { return }
                    continue
                }
                var sent = 0
                while sent < size {
                    guard let count = try? sender.sendFile(from: descriptor, offset: sent, count: size - sent), count > 0 else { return }
                    sent += count
                }
            }
        }
    }

    deinit {
        orders.push(nil)
        sender.shutdown()
        receiver.shutdown()
        senderThread.join()
        sender.close()
        receiver.close()
    }

    /// GB/s of one sendfile (or send) → recv of `size` bytes: from the order to send to the last byte
    /// received.
    func sample(_ size: Int, send: Bool = false) throws -> Double {
        precondition(size <= destination.count && size <= source.size)
        let start = ContinuousClock.now
        orders.push((size, send))
        var received = 0
        while received < size {
            let count = try receiver.receive(into: UnsafeMutableRawBufferPointer(rebasing: destination[received..<min(size, received + (256 << 10))]))
            guard count > 0 else { throw BenchError.childFailed("the loopback TCP sender hung up") }
            received += count
        }
        return Double(size) / (ContinuousClock.now - start).inSeconds / 1e9
    }
}

/// Sizes handed to the sender thread, in order.
private final class OrderQueue: @unchecked Sendable {
    // @unchecked: `orders` is only touched under `condition`.
    private let condition = NSCondition()
    private var orders: [(Int, Bool)?] = []

    func push(_ order: (Int, Bool)?) {
        condition.lock()
        orders.append(order)
        condition.signal()
        condition.unlock()
    }

    func next() -> (Int, Bool)? {
        condition.lock()
        defer { condition.unlock() }
        while orders.isEmpty { condition.wait() }
        return orders.removeFirst()
    }
}

/// The source's mapping, handed to the sender thread: the arena outlives it (deinit joins the thread).
private struct SourceMapping: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
}
