import DequeModule
import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// Per-connection state of a client speaking Arrow Plasma's dialect (pyarrow 11, libplasma 11).
/// The server's Arrow code (StoreServer+Arrow.swift) reads frames into requests, runs them on the engine
/// through the Arrow adapter (ArrowAdapter.swift) and writes Arrow replies; this remembers what those
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

    /// A new get's request id for the engine; `waitFor` files its ids if the engine doesn't answer at once
    /// (most gets are answered at once: they never touch the table).
    func nextGetTicket() -> UInt64 {
        defer { nextRequestID += 1 }
        return nextRequestID
    }

    /// The engine will answer this get later (`finishGet`).
    func waitFor(_ requestID: UInt64, ids: [ObjectID]) { pendingGets[requestID] = ids }

    /// The ids of the waiting get the engine just answered; nil for an unknown request id.
    func finishGet(_ requestID: UInt64) -> [ObjectID]? { pendingGets.removeValue(forKey: requestID) }
}

/// The write end of a subscriber's notification socketpair, passed by the client after Subscribe.
/// Messages are `int64 size` (host order) + PlasmaNotification flatbuffer; pyarrow made the socket
/// nonblocking. What the socket won't take waits here as compact entries (`Pending`, 48 bytes, where the
/// encoded message is ~130), encoded a chunk at a time as the socket drains. Arrow's store queued
/// without bound; here at most `backlogLimit` wait beyond the subscribe snapshot, and past that,
/// as Arrow has no overflow marker, the subscription is dropped (the fd closed: the client reads EOF).
final class ArrowNotifier {
    /// One notification not yet encoded: a seal, or (`dataSize` -1) a deletion.
    struct Pending: Equatable {
        var id: ObjectID
        var dataSize: Int64
        var metadataSize: Int64
        var digest: UInt64

        static func sealed(id: ObjectID, dataSize: Int64, metadataSize: Int64, digest: UInt64) -> Pending {
            Pending(id: id, dataSize: dataSize, metadataSize: metadataSize, digest: digest)
        }

        static func deleted(id: ObjectID) -> Pending { Pending(id: id, dataSize: -1, metadataSize: 0, digest: 0) }

        var info: ArrowObjectInfo {
            dataSize < 0 ? .deleted(id: id)
                : .sealed(id: id, dataSize: dataSize, metadataSize: metadataSize, digest: ArrowDigest.bytes(digest))
        }
    }

    /// Store heap one waiting notification costs (what a memory budget charges for the backlog).
    static var bytesPerPendingNotification: Int { MemoryLayout<Pending>.stride }
    /// Encoded bytes prepared per refill: enough for one large write, small enough to keep per subscriber.
    static let encodeChunkBytes = 64 << 10

    let socket: UnixSocket
    /// Most notifications waiting beyond the snapshot (`ServerConfiguration.arrowNotificationBacklog`).
    let backlogLimit: Int
    private var backlog: Deque<Pending> = []
    /// How many entries at the front of `backlog` are the subscribe snapshot: they don't count against
    /// `backlogLimit` (their number is bounded by the store's own objects, and none could be read yet).
    private var snapshotRemaining = 0
    /// Encoded messages taken from `backlog`, written up to `written`.
    private var encoded: [UInt8] = []
    private var written = 0
    /// Registered with the event loop for writability because bytes are waiting.
    var watchingWritable = false

    init(socket: UnixSocket, backlogLimit: Int) {
        self.socket = socket
        self.backlogLimit = backlogLimit
    }

    /// Notifications waiting (snapshot included), not counting the chunk being written.
    var pendingNotifications: Int { backlog.count }

    /// Store heap this subscriber holds now: waiting entries (snapshot included) and the encoded chunk
    /// being written. What the client-state budget charges for it.
    var heldBytes: Int { backlog.count * Self.bytesPerPendingNotification + encoded.count }

    /// Queues the announcement of the objects that exist at subscribe; call before any `send`.
    func queueSnapshot(_ entries: [Pending]) {
        backlog.append(contentsOf: entries)
        snapshotRemaining = backlog.count
    }

    enum Outcome {
        /// Everything written.
        case sent
        /// Some notifications wait for writability.
        case queued
        /// Over the limit: drop the subscription.
        case overflow
    }

    /// Queues `entry` behind what waits and writes what the socket takes.
    func send(_ entry: Pending) throws(SystemError) -> Outcome {
        guard backlog.count - snapshotRemaining < backlogLimit else { return .overflow }
        backlog.append(entry)
        if watchingWritable { return .queued }  // the socket is full: don't try until it says otherwise
        return try flush() ? .sent : .queued
    }

    /// Writes what waits; true when nothing is left.
    func flush() throws(SystemError) -> Bool {
        while true {
            if written == encoded.count {
                guard !backlog.isEmpty else {
                    encoded = []  // an idle subscriber keeps no chunk
                    written = 0
                    return true
                }
                encodeChunk()
            }
            let count = try encoded.withUnsafeBytes { raw in
                Result { () throws(SystemError) in
                    // Never blocks even if the client cleared O_NONBLOCK on a copy of this descriptor.
                    try socket.writeWithoutBlocking(UnsafeRawBufferPointer(rebasing: raw[written...]))
                }
            }.get()
            guard let count else { return false }
            written += count
        }
    }

    /// Chunks encoded by every notifier so far, for the loop's pass meter (PassMeter.swift): the loop
    /// thread alone encodes.
    nonisolated(unsafe) static var chunksEncoded = 0

    private func encodeChunk() {
        Self.chunksEncoded += 1
        encoded.removeAll(keepingCapacity: true)
        written = 0
        while encoded.count < Self.encodeChunkBytes, let next = backlog.popFirst() {
            if snapshotRemaining > 0 { snapshotRemaining -= 1 }
            encoded.append(contentsOf: ArrowNotification([next.info]).encode())
        }
    }
}
