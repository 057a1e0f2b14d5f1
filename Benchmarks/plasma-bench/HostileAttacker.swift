import Foundation
import PlasmaClient
import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// One attacker process's connections and what became of them.
final class Attacker: @unchecked Sendable {
    let socket: String
    let assignment: HostileAttack.Assignment
    var tally = HostileAttack.Tally()
    /// Raw connections (all attacks but zero-size-objects), checked for closure at the end.
    var raw: [RawAttackConnection] = []
    /// zero-size-objects: its clients, kept open.
    var clients: [PlasmaClient] = []
    /// arrow-subscribers: the notification sockets' far ends, never read.
    var notificationSockets: [UnixSocket] = []

    private let lock = NSLock()
    private var stopping = false

    init(socket: String, assignment: HostileAttack.Assignment) {
        (self.socket, self.assignment) = (socket, assignment)
    }

    /// The run is over: stop sending (the set-up checks between chunks and batches).
    func stop() { lock.withLock { stopping = true } }
    var isStopping: Bool { lock.withLock { stopping } }

    func setUp() {
        switch assignment.attack {
        case .partialFrames:
            openRaw()
            var header = [UInt8](repeating: 0, count: FrameHeader.size)
            header.withUnsafeMutableBytes {
                FrameHeader(type: MessageType.createAndSealBatch.rawValue, requestID: 1, payloadLength: assignment.claimedBytes)
                    .store(to: $0.baseAddress!)
            }
            pushPartialFrames(header: header)
        case .arrowPartialFrames:
            openRaw()  // the 8 zero bytes of the header's version field make it an Arrow connection
            var header: [UInt8] = []
            ArrowFrameHeader(type: .createAndSealRequest, payloadLength: assignment.claimedBytes).encode(into: &header)
            pushPartialFrames(header: header)
        case .waitingGets:
            openRaw()
            sendWaitingGets()
        case .arrowSubscribers:
            subscribeWithoutReading()
        case .zeroSizeObjects:
            createZeroSizeObjects()
        case .unreadReplies:
            openRaw()
            sendUnreadLists()
        }
    }

    /// The end: which connections the store closed, and the tally.
    func finish() -> HostileAttack.Tally {
        for connection in raw {
            if assignment.attack == .waitingGets { connection.drainReplies() }
            tally.refusedRequests += connection.refusals
            if connection.isClosedByPeer() { tally.closedByStore += 1 }
            if connection.stalled { tally.stalled += 1 }
        }
        for client in clients where (try? client.statistics()) == nil { tally.closedByStore += 1 }
        // arrow-subscribers: a subscription the store cut off (its notification socket closed) counts too.
        for notifications in notificationSockets where peerHasClosed(notifications) { tally.closedByStore += 1 }
        return tally
    }

    private func openRaw() {
        for _ in 0..<assignment.connections {
            do {
                let connection = try UnixSocket.connect(path: socket)
                try connection.setNonBlocking(true)
                raw.append(RawAttackConnection(connection))
                tally.opened += 1
            } catch {
                tally.connectFailed += 1
            }
        }
    }

    /// `header`, then 15/16 of the payload it claims, on every connection; the rest never comes.
    private func pushPartialFrames(header: [UInt8]) {
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        let payload = assignment.claimedBytes / 16 * 15
        var left = [Int?](repeating: nil, count: raw.count)  // payload bytes still to send; nil: header first
        RawAttackConnection.drive(raw, readReplies: false, shouldStop: { self.isStopping }) { index in
            guard let remaining = left[index] else {
                left[index] = payload
                self.tally.sent += 1
                return header
            }
            guard remaining > 0 else { return nil }
            let chunk = min(remaining, zeros.count)
            left[index] = remaining - chunk
            return chunk == zeros.count ? zeros : Array(zeros[..<chunk])
        }
    }

    /// Up to `count` gets per connection, each waiting forever on 65,536 ids that no one creates; a
    /// connection stops at its first refusal.
    private func sendWaitingGets() {
        let idsPerGet = 1 << 16
        var template = ByteWriter()
        Request.get(ids: (0..<idsPerGet).map { _ in ObjectID.random() }, timeoutMilliseconds: -1)
            .encode(requestID: 1, into: &template)
        let firstID = template.buffer.count - idsPerGet * ObjectID.byteCount
        var serial: UInt64 = 0
        var sent = [Int](repeating: 0, count: raw.count)
        RawAttackConnection.drive(raw, readReplies: true, shouldStop: { self.isStopping }) { index in
            guard sent[index] < self.assignment.count, self.raw[index].refusals == 0 else { return nil }
            sent[index] += 1
            serial += 1
            self.tally.sent += 1
            // Fresh ids for every get (the first 8 bytes of each), so that no two share a waiting entry.
            var frame = template.buffer
            frame.withUnsafeMutableBytes { bytes in
                bytes.storeBytes(of: serial.littleEndian, toByteOffset: 8, as: UInt64.self)  // the request id
                for id in 0..<idsPerGet {
                    bytes.storeBytes(of: (serial << 20 | UInt64(id)).littleEndian,
                                     toByteOffset: firstID + id * ObjectID.byteCount, as: UInt64.self)
                }
            }
            return frame
        }
    }

    /// `count` list requests per connection, 100 to a write; their replies are never read.
    private func sendUnreadLists() {
        let perChunk = 100
        var frames = ByteWriter()
        for index in 0..<perChunk { Request.list.encode(requestID: UInt64(index + 1), into: &frames) }
        let chunk = frames.buffer
        var left = [Int](repeating: assignment.count, count: raw.count)
        RawAttackConnection.drive(raw, readReplies: false, shouldStop: { self.isStopping }) { index in
            guard left[index] > 0 else { return nil }
            let count = min(perChunk, left[index])
            left[index] -= count
            self.tally.sent += count
            return count == perChunk ? chunk : Array(chunk[..<(count * chunk.count / perChunk)])
        }
    }

    /// Arrow's subscribe as libplasma does it: connect, SubscribeRequest, then one end of a socket pair
    /// as the notification socket; we keep the other end and never read it.
    private func subscribeWithoutReading() {
        for _ in 0..<assignment.connections where !isStopping {
            let connection: UnixSocket
            do {
                connection = try UnixSocket.connect(path: socket)
            } catch {
                tally.connectFailed += 1
                continue
            }
            tally.opened += 1
            raw.append(RawAttackConnection(connection))
            // A store that refuses or cuts us off here is counted at the end, as a closed connection.
            guard let notifications = try? subscribe(connection) else { continue }
            notificationSockets.append(notifications)
            tally.sent += 1
        }
    }

    /// Connect, read its reply, Subscribe, pass the notification socket; returns our end of it.
    private func subscribe(_ connection: UnixSocket) throws -> UnixSocket? {
        try ArrowRequest.connect.encode().withUnsafeBytes { try connection.writeAll($0) }
        var header = [UInt8](repeating: 0, count: ArrowFrameHeader.size)
        guard try header.withUnsafeMutableBytes({ try connection.readExactly(into: $0) }),
              let decoded = try ArrowFrameHeader.decode(header, maxPayload: 1 << 20) else { return nil }
        var payload = [UInt8](repeating: 0, count: decoded.payloadLength)
        guard try payload.withUnsafeMutableBytes({ try connection.readExactly(into: $0) }) else { return nil }
        try ArrowRequest.subscribe.encode().withUnsafeBytes { try connection.writeAll($0) }
        let (ours, theirs) = try UnixSocket.pair()
        defer { theirs.close() }
        guard try connection.sendArrowDescriptor(theirs.rawValue) else {
            ours.close()
            return nil
        }
        return ours
    }

    /// This process's share of 0-byte objects, in createAndSeal batches of 1000 spread over its
    /// connections; a connection stops at its first refused object.
    private func createZeroSizeObjects() {
        for _ in 0..<assignment.connections {
            do {
                clients.append(try PlasmaClient(socketPath: socket))
                tally.opened += 1
            } catch {
                tally.connectFailed += 1
            }
        }
        guard !clients.isEmpty else { return }
        let perClient = (assignment.count + clients.count - 1) / clients.count
        for client in clients {
            var created = 0
            while created < perClient, tally.sent < assignment.count, !isStopping {
                let batch = (0..<min(1000, perClient - created)).map { _ in InlineObject(id: .random(), data: []) }
                guard let statuses = try? client.createAndSeal(batch: batch) else { break }
                let ok = statuses.filter { $0 == .ok }.count
                created += ok
                tally.sent += ok
                if ok < statuses.count {
                    tally.refusedRequests += statuses.count - ok
                    break
                }
            }
        }
    }
}

/// Seals 64 B objects with fresh ids, 100 every 100 ms, while the Arrow subscribers don't read: each
/// seal is a notification for every one of them.
final class Sealer: @unchecked Sendable {
    let socket: String
    private let lock = NSLock()
    private var running = true
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)

    init(socket: String) { self.socket = socket }

    func start() {
        let thread = Thread { [self] in
            defer { done.signal() }
            guard let client = try? PlasmaClient(socketPath: socket) else { return }
            defer { client.close() }
            let data = [UInt8](repeating: 7, count: smallObjectSize)
            while lock.withLock({ running }) {
                _ = try? client.createAndSeal(batch: (0..<100).map { _ in InlineObject(id: .random(), data: data) })
                usleep(100_000)
            }
        }
        self.thread = thread
        thread.start()
    }

    func stop() {
        lock.withLock { running = false }
        if thread != nil { done.wait() }
    }
}
