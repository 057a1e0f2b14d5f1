import ArgumentParser
import Glibc
import Logging
import PlasmaCore
import PlasmaStore
import PlasmaToolSupport

/// `plasma-store`: the daemon. Arrow's short flags (-m, -s, -d, -h) work as aliases, so `-h` means
/// hugepages here and help is `--help` only.
@main
struct PlasmaStoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plasma-store",
        abstract: "A shared-memory object store: processes exchange immutable objects by id, with zero copies.",
        discussion: """
            Sizes accept bytes or a unit: K, M, G, T and KiB, MiB, GiB, TiB are powers of 1024; \
            KB, MB, GB, TB powers of 1000. Examples: 2G, 512M, 1.5G, 2GiB, 1000000.
            Stops on SIGTERM or SIGINT: clients are disconnected and the socket file is removed. \
            SIGHUP is logged and otherwise ignored (the log is standard error: nothing to reopen).
            Under systemd: Type=notify readiness through $NOTIFY_SOCKET, and socket activation \
            ($LISTEN_FDS, one ListenStream= socket, used instead of --socket); see docs/OPERATIONS.md.
            """,
        version: PlasmaVersion.current,
        helpNames: [.long])

    @Option(name: [.customLong("memory"), .customShort("m")],
            help: ArgumentHelp("Capacity: the most object bytes held at once, e.g. 2G, 512M, 1.5G, 2GiB, 1000000.", valueName: "size"))
    var memory: String

    @Option(name: [.customLong("socket"), .customShort("s")],
            help: ArgumentHelp("Unix socket path. Default: $PLASMA_STORE_SOCKET, else /tmp/plasma.sock.", valueName: "path"))
    var socket: String?

    @Option(name: .customLong("socket-mode"),
            help: ArgumentHelp("Permission bits of the socket file, in octal. Default: 600, or 660 with --socket-group.", valueName: "mode"))
    var socketMode: String?

    @Option(name: .customLong("socket-group"),
            help: ArgumentHelp("Give the socket file to this group (a name, or a gid), so that its members can connect.", valueName: "group"))
    var socketGroup: String?

    @Option(name: .customLong("client-quota"),
            help: ArgumentHelp("Most bytes one native client may keep unevictable: objects it created and hasn't sealed, and objects it holds references to. Creates past it fail. Default: no limit.", valueName: "size"))
    var clientQuota: String?

    @Option(name: .customLong("max-clients"), help: "Most native clients connected at once; more are refused with a reason. Arrow (pyarrow) clients don't count.")
    var maxClients = 1024

    @Option(name: .customLong("max-arrow-clients"),
            help: ArgumentHelp("Most Arrow (pyarrow) clients connected at once; more are closed at once (Arrow's protocol has no refusal). Default: no limit but descriptors, as on Arrow's store.", valueName: "n"))
    var maxArrowClients: Int?

    @Option(name: .customLong("arrow-notification-backlog"),
            help: ArgumentHelp("Most notifications waiting for one Arrow subscriber that reads them late (beyond the objects announced at subscribe); past it its subscription is dropped.", valueName: "n"))
    var arrowNotificationBacklog = 1 << 20

    @Option(name: .customLong("client-buffer"),
            help: ArgumentHelp("Most subscription-event bytes queued for one client; past it its queued events are dropped for one overflow marker. A client with 8x this many reply bytes unread is disconnected.", valueName: "size"))
    var clientBuffer = "8M"

    @Option(name: .customLong("client-state-budget"),
            help: ArgumentHelp("Most bytes all clients together may make the store hold besides objects: partial frames, unread replies and events, waiting gets and creates, Arrow notification backlogs, zero-byte objects. One client may take a quarter of it. Default: 1/16 of physical memory, within 1G-16G.", valueName: "size"))
    var clientStateBudget: String?

    @Option(name: .customLong("log-level"),
            help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel = "info"

    @Option(name: .customLong("busy-poll"),
            help: ArgumentHelp("Microseconds the event loop keeps polling after work before it sleeps; 0 disables. Saves a CPU wake-up per request under load.", valueName: "us"))
    var busyPoll = 50

    @Flag(name: .customLong("pre-wake"), help: "After handing a client a block of 1 MiB or more to write or read, wake just before its copy should end (learned from earlier ones) and poll up to 4 ms for its seal or release. Off by default: on a loaded 2-core VM it showed no gain over a sleeping store's wake. Needs --busy-poll above 0.")
    var preWake = false

    @Flag(name: .customLong("no-prefault"), help: "Don't populate the arena: pages are faulted in as objects first use them. Without it a background thread populates the arena while the store already serves.")
    var noPrefault = false

    @Flag(name: [.customLong("hugepages"), .customShort("h")],
          help: "Back the arena with hugepages; falls back to normal pages, with a log line, when none are reserved.")
    var hugepages = false

    @Option(name: [.customLong("directory"), .customShort("d")],
            help: ArgumentHelp("Back the arena by an unlinked file in this directory (e.g. a hugetlbfs mount) instead of memfd.", valueName: "dir"))
    var directory: String?

    @Option(name: [.customLong("external-store"), .customShort("e")],
            help: ArgumentHelp("Keep evicted objects instead of dropping them; a get brings them back. hashtable://NAME keeps them in the store's own memory (Arrow's -e); file:///DIR writes one file per object in DIR.", valueName: "url"))
    var externalStore: String?

    @OptionGroup(title: "Cluster (docs/CLUSTER.md)") var cluster: ClusterOptions

    func validate() throws {
        guard let capacity = try? ByteCount.parse(memory) else {
            throw ValidationError(String(describing: Result { try ByteCount.parse(memory) }.failureDescription))
        }
        // The allocator counts offsets in 32-bit units of 64 bytes; the arena rounds up to 2 MiB at most.
        let largestCapacity = Allocator.maximumSize / (2 << 20) * (2 << 20)
        guard capacity <= largestCapacity else {
            throw ValidationError("--memory \(memory) is more than one store can manage: at most \(largestCapacity) bytes (256 GiB - 2 MiB)")
        }
        if let socketMode, UInt32(socketMode, radix: 8).map({ $0 <= 0o777 }) != true {
            throw ValidationError("invalid --socket-mode '\(socketMode)': give octal permission bits, e.g. 600 or 660")
        }
        if socketGroup?.isEmpty == true { throw ValidationError("--socket-group needs a group name or gid") }
        if let clientQuota, (try? ByteCount.parse(clientQuota)).map({ $0 > 0 }) != true {
            throw ValidationError("invalid --client-quota '\(clientQuota)': give a size of at least 1 byte, e.g. 256M")
        }
        guard (0...1_000_000).contains(busyPoll) else { throw ValidationError("--busy-poll takes 0 to 1000000 microseconds") }
        guard let buffer = try? ByteCount.parse(clientBuffer), buffer >= 4096 else {
            throw ValidationError("invalid --client-buffer '\(clientBuffer)': give a size of at least 4K, e.g. 8M")
        }
        _ = buffer
        if let clientStateBudget, (try? ByteCount.parse(clientStateBudget)).map({ $0 >= 1 << 20 }) != true {
            throw ValidationError("invalid --client-state-budget '\(clientStateBudget)': give a size of at least 1M, e.g. 2G")
        }
        if let externalStore, let invalid = ExternalStoreURL.validate(externalStore) {
            throw ValidationError("invalid --external-store \(invalid)")
        }
        guard maxClients > 0 else { throw ValidationError("--max-clients must be at least 1") }
        if let maxArrowClients, maxArrowClients < 1 { throw ValidationError("--max-arrow-clients must be at least 1") }
        guard arrowNotificationBacklog > 0 else { throw ValidationError("--arrow-notification-backlog must be at least 1") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("invalid --log-level '\(logLevel)': use trace, debug, info, notice, warning, error or critical")
        }
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel)!
        LoggingSystem.bootstrap { label in DaemonLogHandler(label: label, logLevel: level) }
        let logger = Logger(label: "plasma-store")
        let capacity = try ByteCount.parse(memory)
        let path = socket ?? ProcessEnvironment.value("PLASMA_STORE_SOCKET") ?? "/tmp/plasma.sock"

        var configuration = ServerConfiguration(capacity: capacity, socketPath: path)
        do {
            try configuration.adoptServiceManager(socketOption: socket, logger: logger)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode.failure
        }
        // A group shares the socket: read/write for it too, unless --socket-mode says otherwise.
        configuration.socketMode = socketMode.map { UInt32($0, radix: 8)! } ?? (socketGroup == nil ? 0o600 : 0o660)
        configuration.socketGroup = socketGroup
        configuration.engine.clientQuota = try clientQuota.map { try ByteCount.parse($0) }
        configuration.maxClients = maxClients
        configuration.maxArrowClients = maxArrowClients
        configuration.arrowNotificationBacklog = arrowNotificationBacklog
        configuration.arena.prefault = !noPrefault
        configuration.arena.hugepages = hugepages
        configuration.arena.directory = directory
        configuration.externalStore = externalStore
        configuration.busyPoll = .microseconds(busyPoll)
        configuration.preWake = preWake
        configuration.clientEventBufferBytes = try ByteCount.parse(clientBuffer)
        configuration.maxPendingReplyBytes = 8 * configuration.clientEventBufferBytes
        if let clientStateBudget { configuration.clientStateBudget = try ByteCount.parse(clientStateBudget) }

        // Registered in etcd before serving: a store told to join a cluster that it can't reach refuses to
        // start rather than serve alone. Left (lease revoked) when the store stops, however it stops.
        let membership = try joinCluster(capacity: capacity, logger: logger)
        let transfer: ClusterTransfer?
        do {
            transfer = try membership.map { try startTransfer($0.settings, logger: logger) }
        } catch {
            membership?.leave()
            throw error
        }

        let server: StoreServer
        do {
            let attachment = membership.map { membership in
                var attachment = ClusterAttachment(directory: membership.directory, puller: transfer!.puller)
                attachment.peersRefused = { transfer!.peersRefused }
                attachment.transferConnectionsRefused = { transfer!.connectionsRefused }
                // --cluster-inline-max 0: neither this node's locations carry bytes nor are peers' used.
                attachment.inlineCopies = membership.settings.inlineCopyMaximumBytes > 0 ? transfer!.token : nil
                attachment.inlineCopyMaximumBytes = membership.settings.inlineCopyMaximumBytes
                return attachment
            }
            server = try StoreServer(configuration: configuration, logger: logger, cluster: attachment)
            try transfer?.listen(serving: server, logger: logger)
        } catch {
            membership?.leave()
            transfer?.stop()
            logger.critical("cannot start: \(error)")
            throw ExitCode.failure
        }
        defer {
            // After the loop, leave first: peers stop pulling from here at once, whereas stopping the
            // transfer plane may wait for a peer's handshake to time out. The listener and the puller
            // stop while the server (its arena, which pulls write into) is still alive.
            membership?.leave()
            withExtendedLifetime(server) { transfer?.stop() }
        }
        logStartup(server, logger: logger)
        do {
            try server.run()
        } catch {
            logger.critical("stopped by an error: \(error)")
            throw ExitCode.failure
        }
    }

    /// The puller (and later the listener) of a store that joined a cluster.
    private func startTransfer(_ settings: ClusterSettings, logger: Logger) throws -> ClusterTransfer {
        do {
            return try ClusterTransfer(settings: settings, logger: logger)
        } catch {
            logger.critical("cannot start: cannot join the cluster: \(error)")
            throw ExitCode.failure
        }
    }

    /// The cluster membership when `--cluster` is given (etcd reached, node registered), else nil.
    private func joinCluster(capacity: Int, logger: Logger) throws -> ClusterMembership? {
        do {
            guard let settings = try cluster.settings(capacityBytes: capacity) else { return nil }
            return try ClusterMembership(settings: settings, logger: logger)
        } catch {
            logger.critical("cannot start: cannot join the cluster: \(error)")
            throw ExitCode.failure
        }
    }

    private func logStartup(_ server: StoreServer, logger: Logger) {
        let arena = server.arena
        if let errno = arena.hugepageFallback {
            logger.warning("hugepages requested but unavailable (\(errno)); using normal pages. Reserve some with: sysctl vm.nr_hugepages=N")
        }
        let prefault = arena.prefaultDuration.map { "prefault \($0.compact)" }
            ?? (server.configuration.arena.prefault ? "prefault in the background" : "no prefault")
        let capacity = server.configuration.capacity
        let quota = server.configuration.engine.clientQuota.map { ", client quota \(ByteCount.format($0))" } ?? ""
        let budget = ", client-state budget \(ByteCount.format(server.configuration.clientStateBudget))"
        logger.info("plasma-store ready: capacity \(ByteCount.format(capacity)) (\(capacity) bytes), socket \(server.configuration.socketPath), \(prefault), pages \(arena.usesHugepages ? "huge" : "normal"), pid \(getpid())\(quota)\(budget)")
    }
}

enum ProcessEnvironment {
    static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let value = String(cString: raw)
        return value.isEmpty ? nil : value
    }
}

extension Result where Failure == any Error {
    var failureDescription: String {
        if case .failure(let error) = self { return "\(error)" }
        return ""
    }
}
