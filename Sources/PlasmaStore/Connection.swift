import PlasmaEngine
import PlasmaPosix
import PlasmaWire

/// One accepted client socket: bytes not yet framed, replies not yet written.
final class Connection {
    enum Dialect {
        /// No complete first frame yet: the first bytes will tell.
        case undetermined
        case native
        /// Arrow Plasma (pyarrow 11 / libplasma): the first 8 bytes were zero (Arrow's version field).
        case arrow
    }

    let socket: UnixSocket
    let client: ClientID
    let peer: PeerCredentials?
    var dialect = Dialect.undetermined
    /// Counted against its dialect's client limit (StoreServer+DialectLimits.swift).
    var admitted = false
    /// Counted among the connections that have not yet said their dialect (StoreServer+DialectLimits.swift).
    var countedUndetermined = false
    /// Bytes received and not yet executed: a partial frame, or frames held while `framesPaused`.
    var inbound: [UInt8] = []
    /// Bytes of the partial frame at the end of `inbound` (from its header), 0 when none: its buffer is
    /// sized for it once, rather than grown by copying as it arrives.
    var partialFrameBytes = 0
    /// Its frames wait for a later loop pass (StoreServer+Pacing.swift); its socket isn't read meanwhile.
    var framesPaused = false
    /// Its last request was a pass's worth of work or more (or it has sent none yet: many connections
    /// arriving at once with a big request each would otherwise all run in one pass): once a pass has
    /// done its share, it waits.
    var lastRequestWasHeavy = true
    /// What the loop reads after the light clients, and under the pass's time bound: the rest of a big
    /// frame, or a connection that sent a heavy request or none yet (StoreServer.handle, readAvailable).
    var mayBringBigFrame: Bool { partialFrameBytes > 0 || lastRequestWasHeavy }
    var outbound = OutboundBuffer()
    /// Subscription events not yet moved to `outbound`; dropped (with a marker) past its limit.
    var events: EventQueue
    /// In the server's list of connections to flush before the loop sleeps.
    var isScheduled = false
    /// Registered for writability because the socket refused bytes.
    var waitingForWritable = false
    var isClosed = false
    /// Set when the connection must close but can't yet (inside an engine call); no more I/O for it.
    var closeReason: String?
    /// Its `list` reply being built a slice at a time (StoreServer+Lists.swift); its frames wait meanwhile.
    var listBuild: ListBuild?
    /// The Arrow dialect's per-connection state (ArrowSession.swift); nil for native clients.
    var arrow: ArrowSession?
    /// Descriptors received (SCM_RIGHTS) and not yet claimed, oldest first. Only connections that are
    /// not known to be native read with a control buffer: Arrow clients pass an fd after Subscribe.
    var receivedDescriptors: [Int32] = []
    /// What this client's buffers and waits hold of the client-state budget.
    let account = ClientStateBudget.Account()
    /// Its last reply handed it a large block; its next frame times the copy (TransferPace.swift).
    var pendingTransfer: TransferPace.Pending?
    /// The size its last native create asked for: the created reply hands it that much to write.
    var createBytes = 0

    init(socket: UnixSocket, client: ClientID, peer: PeerCredentials?, eventLimit: Int) {
        self.socket = socket
        self.events = EventQueue(limit: eventLimit)
        self.client = client
        self.peer = peer
    }

    var peerDescription: String {
        guard let peer else { return "\(client)" }
        return "\(client) (pid \(peer.pid), uid \(peer.uid), gid \(peer.gid))"
    }
}
