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
/// nonblocking. What the socket won't take waits as compact entries (`Pending`, 48 bytes, where the
/// encoded message is ~130), encoded a chunk at a time as the socket drains: the subscribe snapshot
/// here, the events since in the log all subscribers share (ArrowEventLog), from this subscriber's
/// `cursor` on. Arrow's store queued without bound; here at most `backlogLimit` events wait beyond the
/// snapshot, and past that, as Arrow has no overflow marker, the subscription is dropped (the fd
/// closed: the client reads EOF).
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
    /// Notifications per chunk of a queue (48 KiB): memory is taken and charged a chunk at a time.
    static let chunkEntries = 1_024
    /// Encoded bytes prepared per refill: enough for one large write, small enough to keep per subscriber.
    static let encodeChunkBytes = 64 << 10

    let socket: UnixSocket
    /// Most notifications waiting beyond the snapshot (`ServerConfiguration.arrowNotificationBacklog`).
    let backlogLimit: Int
    /// The events of every subscriber, and the next of them this one is to be told.
    let log: ArrowEventLog
    private(set) var cursor: UInt64
    /// The subscribe snapshot's entries walked and not yet encoded: always written before the events.
    /// They don't count against `backlogLimit` (their number is bounded by the store's own objects, and
    /// none could be read yet).
    private var snapshot = ChunkedQueue<Pending>(chunkCapacity: ArrowNotifier.chunkEntries)
    /// Encoded messages taken from `snapshot` and the log, written up to `written`.
    private var encoded: [UInt8] = []
    private var written = 0
    /// Registered with the event loop for writability because bytes are waiting.
    var watchingWritable = false
    /// The table walk that makes the subscribe snapshot (StoreServer+ArrowSnapshot.swift), nil once it
    /// is done (or when it was taken at once). Until then events wait behind the snapshot.
    var snapshotWalk: SnapshotWalk?

    /// Where the walk of the object table's slots stands. Objects the walk meets that were sealed after
    /// the subscribe are skipped (their events announce them), so no object is announced twice. A
    /// time, not a set of the ids sealed since: with 34 subscribers walking 1.1M objects, the sets
    /// grew to 1M ids each and, doubling together on one batch of seals, held the loop 0.9 s.
    struct SnapshotWalk {
        var nextSlot: Int
        /// The table's slot count at subscribe: later slots hold only objects created since.
        let endSlot: Int
        /// The engine's monotonic clock at subscribe, a reading no later seal shares: an object sealed
        /// at or before it existed sealed at the subscribe.
        let subscribedAt: UInt64

        /// Whether the walk announces an object sealed at `sealedAt` (nil: not sealed).
        func announces(sealedAt: UInt64?) -> Bool {
            guard let sealedAt else { return false }
            return sealedAt <= subscribedAt
        }
    }

    /// A subscriber from now on: it is told the events appended to `log` from here.
    init(socket: UnixSocket, backlogLimit: Int, log: ArrowEventLog) {
        self.socket = socket
        self.backlogLimit = backlogLimit
        self.log = log
        cursor = log.endSequence
    }

    /// Events since the subscribe not yet encoded: the log's entries from `cursor` on.
    var backlogCount: Int { Int(log.endSequence - cursor) }

    /// Notifications waiting (snapshot included), not counting the chunk being written.
    var pendingNotifications: Int { snapshot.count + backlogCount }

    /// Store heap this subscriber holds now, as the client-state budget charges it: its waiting
    /// entries (snapshot included) rounded up to whole chunks of ``chunkEntries``, and the encoded
    /// chunk being written. Its span of the shared log counts as if it held it alone: the heap holds
    /// those entries once for all subscribers, so the charges add up to at least what is held.
    /// Rounded so that it changes once per ``chunkEntries`` notifications: between those, charging it
    /// again is a no-op of the budget's; nothing waiting costs nothing.
    var heldBytes: Int {
        let entries = (pendingNotifications + Self.chunkEntries - 1) / Self.chunkEntries * Self.chunkEntries
        return entries * Self.bytesPerPendingNotification + encoded.count
    }

    /// Queues the announcement of objects that existed at subscribe, ahead of every event; the whole
    /// snapshot at once, or (with `snapshotWalk` set) each slice of it as it is walked.
    func queueSnapshot(_ entries: [Pending]) {
        snapshot.append(contentsOf: entries)
    }

    enum Outcome {
        /// Everything written.
        case sent
        /// Some notifications wait for writability.
        case queued
        /// Some notifications wait for the snapshot's walk to go on (the socket may take more now).
        case held
        /// Over the limit: drop the subscription.
        case overflow
    }

    /// Takes the log's new entries: writes what the socket takes of what waits, then judges what is
    /// left against the bound (a pass's burst the socket takes whole is no overflow).
    func catchUp() throws(SystemError) -> Outcome {
        // While the socket is full, don't try until it says otherwise.
        let done = watchingWritable ? false : try flush()
        guard backlogCount <= backlogLimit else { return .overflow }
        if !done { return .queued }
        return pendingNotifications == 0 ? .sent : .held
    }

    /// Writes what waits; true when nothing is left that may be written now (events wait for the
    /// snapshot's walk: watching writability for them would spin).
    func flush() throws(SystemError) -> Bool {
        while true {
            if written == encoded.count {
                guard !snapshot.isEmpty || (snapshotWalk == nil && backlogCount > 0) else {
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
        while encoded.count < Self.encodeChunkBytes, let next = snapshot.popFirst() ?? nextEvent() {
            encoded.append(contentsOf: ArrowNotification([next.info]).encode())
        }
    }

    /// The next event from the log, once the snapshot's walk is done (events wait behind it).
    private func nextEvent() -> Pending? {
        guard snapshotWalk == nil, cursor < log.endSequence else { return nil }
        defer { cursor += 1 }
        return log[cursor]
    }
}
