import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// Per-connection state of a client speaking Arrow Plasma's dialect (pyarrow 11, libplasma 11).
/// The server's Arrow code (StoreServer+Arrow.swift) reads frames into requests, runs them on the engine
/// with Arrow's semantics (StoreEngine+Arrow.swift) and writes Arrow replies; this remembers what those
/// steps need between frames.
final class ArrowSession {
    /// The engine answers gets later (blocking gets) through the server's reply sink, by request id: the
    /// ids each waiting get asked for, to build its Arrow reply in request order.
    private var pendingGets: [UInt64: [ObjectID]] = [:]
    private var nextRequestID: UInt64 = 1
    /// The arena's fd went to this client already. Arrow's client mmaps each segment once and never
    /// asks again; both sides must agree on what was sent, or it blocks in recvmsg (or maps a stray fd).
    var sentArena = false
    /// A SubscribeRequest was read and its 1-byte fd message is still to come.
    var awaitingSubscribeDescriptor = false
    /// Subscribed once (a second Subscribe's fd is accepted and closed: Arrow's store desynced there).
    var subscribed = false
    /// Where notifications go; nil when not subscribed, or after it was dropped.
    var notifier: ArrowNotifier?

    func startGet(_ ids: [ObjectID]) -> UInt64 {
        let requestID = nextRequestID
        nextRequestID += 1
        pendingGets[requestID] = ids
        return requestID
    }

    /// The ids of the get the engine just answered; nil for an unknown request id.
    func finishGet(_ requestID: UInt64) -> [ObjectID]? { pendingGets.removeValue(forKey: requestID) }
}

/// The write end of a subscriber's notification socketpair, passed by the client after Subscribe.
/// Messages are `int64 size` (host order) + PlasmaNotification flatbuffer; pyarrow made the socket
/// nonblocking. What the socket won't take waits here, up to `limit` bytes; past that Arrow has no
/// overflow marker, so the subscription is dropped (the fd closed: the client reads EOF) instead of
/// letting one stalled subscriber grow the store without bound.
final class ArrowNotifier {
    let socket: UnixSocket
    let limit: Int
    private var pending: [UInt8] = []
    private var start = 0
    /// Registered with the event loop for writability because bytes are waiting.
    var watchingWritable = false
    /// Bytes written to the socket so far, and where the unbounded burst ends in that count: burst
    /// bytes still waiting don't count against `limit`.
    private var writtenTotal = 0
    private var burstEnd = 0

    init(socket: UnixSocket, limit: Int) {
        self.socket = socket
        self.limit = limit
    }

    var pendingBytes: Int { pending.count - start }

    enum Outcome {
        /// Everything written.
        case sent
        /// Some bytes wait for writability.
        case queued
        /// Over the limit: drop the subscription.
        case overflow
    }

    /// Sends `message` now if nothing is waiting, else queues it behind what is. `bounded` false: queue
    /// past the limit (the burst announcing existing objects at subscribe: its size is bounded by the
    /// store's own object count, and the client can't have read any of it yet).
    func send(_ message: [UInt8], bounded: Bool = true) throws(SystemError) -> Outcome {
        if pendingBytes == 0 {
            let written = try message.withUnsafeBytes { raw in
                Result { () throws(SystemError) in try socket.write(raw) }
            }.get() ?? 0
            writtenTotal += written
            if !bounded { burstEnd = writtenTotal + message.count - written }
            if written == message.count { return .sent }
            pending = Array(message[written...])
            start = 0
            return .queued
        }
        let unsentBurst = max(0, burstEnd - writtenTotal)
        guard !bounded || pendingBytes - unsentBurst + message.count <= limit else { return .overflow }
        pending.append(contentsOf: message)
        if !bounded { burstEnd = writtenTotal + pendingBytes }
        return .queued
    }

    /// Writes what waits; true when nothing is left.
    func flush() throws(SystemError) -> Bool {
        while start < pending.count {
            let written = try pending.withUnsafeBytes { raw in
                Result { () throws(SystemError) in try socket.write(UnsafeRawBufferPointer(rebasing: raw[start...])) }
            }.get()
            guard let written else { return false }
            start += written
            writtenTotal += written
        }
        pending.removeAll()
        start = 0
        return true
    }
}
