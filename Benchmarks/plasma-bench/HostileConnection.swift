import Glibc
import PlasmaPosix
import PlasmaWire

/// A hostile connection of raw frames: what is still to send, whether the store closed it or stopped
/// reading it, and the refusals it answered (when we read its replies at all).
final class RawAttackConnection {
    let socket: UnixSocket
    private(set) var closed = false
    /// The run ended before the store had taken all we meant to send (it stopped reading us, or was
    /// too busy to).
    private(set) var stalled = false
    private(set) var refusals = 0
    private var pending: [UInt8] = []
    private var pendingOffset = 0
    private var inbound: [UInt8] = []

    init(_ socket: UnixSocket) { self.socket = socket }

    deinit { socket.close() }

    /// Sends on all `connections` at once what `next(index)` hands out, chunk after chunk, until it
    /// returns nil or the store closes the connection; when `shouldStop()` (the end of the run), the
    /// connections with more to send count as `stalled`. A store that stops reading a connection is
    /// defending itself; one busy for seconds is not, so only the end of the run decides.
    /// `readReplies`: read and count refusals as they come; otherwise replies are never read.
    static func drive(
        _ connections: [RawAttackConnection], readReplies: Bool, shouldStop: () -> Bool, next: (Int) -> [UInt8]?
    ) {
        var active = Set(connections.indices.filter { !connections[$0].closed })
        defer { for index in active { connections[index].stalled = true } }
        while !shouldStop() {
            for index in active where connections[index].pendingOffset == connections[index].pending.count {
                guard let chunk = next(index) else {
                    active.remove(index)
                    continue
                }
                (connections[index].pending, connections[index].pendingOffset) = (chunk, 0)
            }
            if active.isEmpty { return }
            let order = Array(active)
            var fds = order.map {
                pollfd(fd: connections[$0].socket.rawValue, events: Int16(POLLOUT) | (readReplies ? Int16(POLLIN) : 0), revents: 0)
            }
            _ = poll(&fds, nfds_t(fds.count), 100)
            for (index, polled) in zip(order, fds) {
                let connection = connections[index]
                if readReplies, polled.revents & Int16(POLLIN) != 0 { connection.drainReplies() }
                if polled.revents & Int16(POLLOUT) != 0 { connection.sendPending() }
                if connection.closed || polled.revents & Int16(POLLHUP | POLLERR) != 0 {
                    connection.closed = true
                    active.remove(index)
                }
            }
        }
    }

    /// Writes what the socket takes.
    private func sendPending() {
        while pendingOffset < pending.count {
            do {
                let sent = try pending.withUnsafeBytes { try socket.write(UnsafeRawBufferPointer(rebasing: $0[pendingOffset...])) }
                guard let sent else { break }
                pendingOffset += sent
            } catch {
                closed = true  // EPIPE, ECONNRESET: the store hung up
                break
            }
        }
    }

    /// Reads what has arrived (nonblocking) and counts the failure replies among whole frames.
    func drainReplies() {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while !closed {
            let count: Int?
            do {
                count = try buffer.withUnsafeMutableBytes { try socket.read(into: $0) }
            } catch {
                closed = true
                break
            }
            guard let count else { break }
            guard count > 0 else {
                closed = true
                break
            }
            inbound.append(contentsOf: buffer[..<count])
        }
        var offset = 0
        inbound.withUnsafeBytes { raw in
            while let header = try? FrameHeader.decode(UnsafeRawBufferPointer(rebasing: raw[offset...]), maxPayload: 1 << 30),
                  raw.count - offset >= FrameHeader.size + header.payloadLength {
                let payload = UnsafeRawBufferPointer(rebasing: raw[(offset + FrameHeader.size)..<(offset + FrameHeader.size + header.payloadLength)])
                if case .failure? = try? Reply.decode(type: header.type, payload: payload) { refusals += 1 }
                offset += FrameHeader.size + header.payloadLength
            }
        }
        inbound.removeFirst(offset)
    }

    /// Whether the store has closed its end.
    func isClosedByPeer() -> Bool { closed || peerHasClosed(socket) }
}

/// Whether the other end of `socket` has closed (poll, no wait: hang-up shows even with data unread).
func peerHasClosed(_ socket: UnixSocket) -> Bool {
    var fd = pollfd(fd: socket.rawValue, events: Int16(POLLIN) | pollReadHangUp, revents: 0)
    _ = poll(&fd, 1, 0)
    return fd.revents & (pollReadHangUp | Int16(POLLHUP | POLLERR)) != 0
}

/// POLLRDHUP (Linux): the peer closed its end (or shut down writing).
private let pollReadHangUp: Int16 = 0x2000
