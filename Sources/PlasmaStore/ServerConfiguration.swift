import PlasmaEngine
import PlasmaPosix
import PlasmaWire

/// Everything the daemon's flags decide.
public struct ServerConfiguration: Sendable {
    /// Most object bytes the store holds (`--memory`).
    public var capacity: Int
    public var socketPath: String
    /// Permission bits of the socket file (`--socket-mode`); owner-only by default.
    public var socketMode: UInt32 = 0o600
    /// Group the socket file is given to (`--socket-group`): a name, or a gid; nil leaves the store's own.
    public var socketGroup: String?
    /// Most native clients connected at once (`--max-clients`); more are refused with a native notice.
    /// Arrow clients don't count: a connection's dialect is known only from its first 8 bytes, and
    /// Arrow's store limits its clients by descriptors alone (see `maxArrowClients`).
    public var maxClients = 1024
    /// Most Arrow clients connected at once (`--max-arrow-clients`); nil: descriptors alone limit them,
    /// as on Arrow's store. One more is closed without a word (Arrow's protocol has no refusal).
    public var maxArrowClients: Int?
    public var arena = Arena.Options()
    /// With `arena.prefault`: fault the arena's pages in on a background thread once the store serves,
    /// rather than before it answers anyone (StoreServer+Population.swift). false: before, as
    /// `Arena.Options.prefault` alone does.
    public var populateInBackground = true
    public var wireLimits = WireLimits()
    /// Most reply bytes queued for one client that stopped reading before it is disconnected. One
    /// reply larger than this (a big `list`) is still sent: the limit applies to what is queued before it.
    public var maxPendingReplyBytes = 64 << 20
    /// Most event bytes queued for one client (`--client-buffer`); past it, its queued events are
    /// dropped and one overflow marker sent instead.
    public var clientEventBufferBytes = 8 << 20
    /// Most notifications waiting for one Arrow subscriber that reads them late
    /// (`--arrow-notification-backlog`), not counting the snapshot of existing objects sent at subscribe.
    /// Past it the subscription is dropped: Arrow's protocol has no overflow marker. Each waiting
    /// notification costs `ArrowNotifier.bytesPerPendingNotification` bytes of store heap.
    public var arrowNotificationBacklog = 1 << 20
    /// Most bytes of state all clients together may make the store hold besides objects
    /// (`--client-state-budget`, ClientStateBudget.swift): partial frames, queued replies and events,
    /// waiting gets and creates, Arrow notification backlogs, zero-byte objects' records.
    public var clientStateBudget = ClientStateBudget.defaultLimit(physicalMemory: PhysicalMemory.bytes)
    public var engine: StoreEngine.Configuration
    /// How long the loop keeps polling after work before it sleeps (`--busy-poll`); 0 never polls.
    public var busyPoll: Duration = .microseconds(50)
    /// Wake just before a client should be done copying a large block, and poll for its next request
    /// (`--pre-wake`, TransferPace.swift); needs `busyPoll` above 0.
    public var preWake = false
    /// Where evicted objects go instead of being dropped (`--external-store`, Arrow's `-e`):
    /// `hashtable://NAME` or `file:///DIR`; nil: eviction drops them.
    public var externalStore: String?
    /// A listening socket the service manager passed (socket activation, `SocketActivation`): served
    /// instead of binding `socketPath`, and left in place at shutdown. nil: bind `socketPath`.
    public var inheritedListener: UnixSocket?
    /// Whom to tell that the store is ready or stopping (`$NOTIFY_SOCKET`, StoreServer+Service.swift).
    public var serviceNotifier: ServiceNotifier?

    /// Largest Arrow frame payload: Arrow's CreateAndSeal carries the object inline, so an object as
    /// large as the capacity must fit (plus room for the flatbuffer around it).
    public var arrowMaxPayload: Int { max(wireLimits.maxPayload, capacity + (1 << 20)) }

    public init(capacity: Int, socketPath: String) {
        self.capacity = capacity
        self.socketPath = socketPath
        self.engine = StoreEngine.Configuration(capacity: capacity)
    }

    /// The arena holds the capacity rounded up to whole pages: an object of exactly `capacity` bytes fits.
    public var arenaSize: Int {
        let page = PageSize.current
        return max(page, (capacity + page - 1) / page * page)
    }
}
