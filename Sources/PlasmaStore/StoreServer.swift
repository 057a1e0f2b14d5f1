import CPlasma
import DequeModule
import Glibc
import Logging
import PlasmaCore
import PlasmaEngine
import PlasmaPosix
import PlasmaWire

/// The daemon's core: the arena, the engine, the listening socket and the event loop that ties them.
/// Each connection speaks one dialect; its adapter (NativeAdapter, ArrowAdapter) turns frames into
/// engine commands and outcomes into replies, and the server routes what the engine emits later
/// (StoreServer+EngineObserver.swift) to the connection's adapter.
///
/// One thread runs everything (`run()`); `requestStop()` may be called from any thread, and
/// SIGTERM/SIGINT stop it too once `run()` has blocked them into a signalfd.
public final class StoreServer {
    public let configuration: ServerConfiguration
    public let arena: Arena
    let engine: StoreEngine
    /// The engine's allocator; the server tells it how far the arena is populated (StoreServer+Population).
    let allocator: Allocator
    let native: NativeAdapter
    let arrow: ArrowAdapter
    /// The system's clocks; also the engine's (the conformance is below).
    let clock = MonotonicClock()
    /// The engine's observer (StoreServer+EngineObserver.swift); set once `self` exists.
    private var relay: EngineRelay?
    /// Where evicted objects go with `--external-store`; the engine spills through it.
    private let externalStore: ExternalStore?
    /// What the server counts for `stats` (StoreServer+EngineObserver.swift).
    var counters = ServerCounters()
    let logger: Logger
    private let socketFile: SocketFile
    // Not private: the Arrow dialect's code (StoreServer+Arrow.swift) watches notification sockets.
    let loop: EventLoop
    private let wakeup: EventFD
    private(set) var connections: [ClientID: Connection] = [:]
    /// Everything clients make the store hold besides objects (`--client-state-budget`).
    /// Clients admitted per dialect (StoreServer+DialectLimits.swift).
    var admission = DialectAdmission()
    let budget: ClientStateBudget
    private let waitMeter: BudgetWaitMeter
    /// Disconnect lines for misbehaving clients: many at once must not flood the log.
    private var disconnectLog = WarningRateLimit(burst: 20, intervalNanoseconds: 1_000_000_000)
    /// Connections with replies queued since the last flush.
    private var unflushed: [Connection] = []
    /// The connections `flushAll` is working through (kept to reuse its storage).
    private var flushing: [Connection] = []
    /// Connections to close once the engine call that condemned them has returned.
    private var doomed: [Connection] = []
    /// Condemns a connection from inside an engine call (see `doomed`); for StoreServer+Arrow.swift.
    func doom(_ connection: Connection) { doomed.append(connection) }
    /// Where Arrow replies are built, reused for every one (StoreServer+Arrow.swift).
    var arrowBuilder = FlatBufferBuilder(capacity: 1024)
    /// Scratch for reads: most reads hold only whole frames and are decoded straight from here.
    private var readBuffer = [UInt8](repeating: 0, count: 256 << 10)
    /// Set while accept is short of descriptors (AcceptPause.swift).
    private var acceptPause = AcceptPause()
    /// The arena's pages being faulted in while the store serves (StoreServer+Population.swift).
    var population: (thread: ArenaPopulation, progress: EventFD)?
    /// Connections paused so that each loop pass stays short (StoreServer+Pacing.swift).
    var pacing = PassPacing()
    /// Loop pass durations, for `stats` and the log (PassMeter.swift).
    var passMeter = PassMeter()
    /// Native lists being built a slice at a time (StoreServer+Lists.swift).
    var listBuilds = ListBuilds()
    /// Arrow subscribers whose subscribe snapshot is being walked, in turn (StoreServer+ArrowSnapshot.swift).
    var arrowSnapshotWalks = Deque<Connection>()
    /// The events every Arrow subscriber is told, kept once (ArrowEventLog.swift), and the subscribers.
    let arrowEvents = ArrowEventLog()
    var arrowSubscribers: [ClientID: Connection] = [:]
    /// `arrowEvents.endSequence` when the subscribers were last handed the new events.
    var arrowEventsHandedOut: UInt64 = 0
    /// A subscriber read from the log outside a hand-out (its socket drained): chunks may go.
    var arrowLogMayShrink = false
    /// Pre-wake for large transfers (TransferPace.swift); nil unless `--pre-wake`, and with `--busy-poll 0`.
    var transferPace: TransferPace?
    /// Wakes the loop at pre-wake's expectation (StoreServer+PreWake.swift).
    var preWakeTimer: TimerFD?
    /// This store's side of a cluster (StoreServer+Cluster.swift); nil for a lone store.
    var cluster: ClusterSide?

    /// Raises the soft descriptor limit to the hard one; if even that can't serve
    /// `configuration.maxClients` (DescriptorBudget.swift), serves fewer and says so in one line.
    /// `cluster`: makes the store a node of a cluster (ClusterAttachment.swift); nil, a lone store.
    public init(configuration: ServerConfiguration, logger: Logger, cluster attachment: ClusterAttachment? = nil) throws(ServerError) {
        self.configuration = Self.fittingDescriptorLimit(configuration, logger: logger)
        self.logger = logger
        passMeter.logsLongPasses = logger.logLevel <= .debug
        // Arrow's -e: checked (and its directory made) before anything else is set up.
        externalStore = try configuration.externalStore.map { (url) throws(ServerError) in try ExternalStoreURL.open(url, logger: logger) }
        // The socket first: a store refused for a live socket shouldn't prefault gigabytes before saying so.
        if let inherited = configuration.inheritedListener {
            socketFile = SocketFile(adopting: inherited, path: configuration.socketPath)
        } else {
            socketFile = try SocketFile.claim(
                path: configuration.socketPath, mode: configuration.socketMode, group: configuration.socketGroup)
        }
        do {
            if configuration.arena.prefault {
                try MemoryCheck.ensureAvailable(configuration.arenaSize, hugepages: configuration.arena.hugepages)
            }
        } catch {
            socketFile.close()
            throw error
        }
        do {
            arena = try Arena(size: configuration.arenaSize, options: configuration.arenaOptionsAtStart)
            loop = try EventLoop(busyPollNanoseconds: configuration.busyPoll.clampedNanoseconds)
            wakeup = try EventFD()
        } catch {
            socketFile.close()
            throw .system(error)
        }
        if configuration.preWake, configuration.busyPoll.clampedNanoseconds > 0 {
            transferPace = TransferPace()
            preWakeTimer = try? TimerFD()  // without one, no pre-wake: it only saves a wake
            if preWakeTimer == nil { transferPace = nil }
        }
        budget = ClientStateBudget(limit: configuration.clientStateBudget, maxClients: configuration.maxClients)
        waitMeter = BudgetWaitMeter(budget: budget)
        var engineConfiguration = configuration.engine
        engineConfiguration.maxEmptyObjects = budget.emptyObjectLimit
        allocator = Allocator(size: arena.size)
        engine = StoreEngine(
            configuration: engineConfiguration,
            memory: UnsafeMutableRawBufferPointer(start: arena.base, count: arena.size),
            allocator: allocator, clock: clock, spillSink: externalStore)
        native = NativeAdapter(engine: engine, arenaSize: arena.size)
        arrow = ArrowAdapter(engine: engine, segment: arena.descriptor, arenaSize: arena.size)
        engine.waitMeter = waitMeter
        relay = EngineRelay(server: self)
        engine.observer = relay
        native.replySink = { [unowned self] client, requestID, type, reply in
            self.enqueue(reply, type: type, requestID: requestID, for: client)
        }
        native.listBuilder = { [unowned self] client, requestID, origins in startListBuild(client: client, requestID: requestID, origins: origins) }
        engine.statisticsAddendum = { [unowned self] in
            fillBudgetStatistics(&$0)
            fillPopulationStatistics(&$0)
            counters.fill(&$0)
            passMeter.fill(&$0)
            $0.subscriptions += Int64(arrowSubscribers.count)  // not engine subscriptions (ArrowEventLog.swift)
        }
        waitMeter.account = { [unowned self] client in connections[client]?.account }
        if let attachment {
            do { try attachCluster(attachment) } catch {
                socketFile.close()
                throw .system(error)
            }
        }
    }

    private static func fittingDescriptorLimit(_ configuration: ServerConfiguration, logger: Logger) -> ServerConfiguration {
        let limit: DescriptorLimit
        do {
            limit = try DescriptorLimit.raiseSoftToHard()
        } catch {
            // E.g. an unlimited hard limit above a lowered fs.nr_open: go on with the soft limit.
            guard let current = try? DescriptorLimit.current() else { return configuration }
            logger.warning("cannot raise the descriptor limit from \(current.soft): \(error)")
            limit = current
        }
        let clients = DescriptorBudget.clientLimit(requested: configuration.maxClients, descriptorLimit: limit.soft)
        guard clients < configuration.maxClients else { return configuration }
        var lowered = configuration
        lowered.maxClients = clients
        logger.warning("serving at most \(clients) clients instead of --max-clients \(configuration.maxClients): the descriptor limit (RLIMIT_NOFILE) is \(limit.soft), and \(configuration.maxClients) clients need up to \(DescriptorBudget.needed(clients: configuration.maxClients)) (\(DescriptorBudget.perClient) each + \(DescriptorBudget.reserved) for the store); raise the hard limit (ulimit -Hn, systemd LimitNOFILE=) to serve more")
        return lowered
    }

    /// A handle that stops the server from any thread.
    public var stopHandle: StopHandle { StopHandle(wakeup: wakeup) }

    public struct StopHandle: Sendable {
        let wakeup: EventFD
        public func requestStop() { wakeup.signal() }
    }

    /// Serves until SIGTERM, SIGINT or `requestStop()`; then disconnects every client, removes the socket
    /// file and returns.
    public func run(handleSignals: Bool = true) throws(ServerError) {
        do {
            let signals = handleSignals ? try SignalFD.open(signals: [SIGTERM, SIGINT, SIGHUP]) : nil
            defer { signals?.close() }
            try loop.register(socketFile.listener.rawValue, interest: .readable) { [unowned self] _ in acceptAll() }
            try loop.register(wakeup.rawValue, interest: .readable) { [unowned self] _ in
                wakeup.drain()
                logger.info("stop requested")
                loop.stop()
            }
            if let timer = preWakeTimer {
                try loop.register(timer.rawValue, interest: .readable) { _ in timer.drain() }
            }
            if let completions = externalStore?.completions {
                // Spill writes finished on the store's I/O thread (ExternalStore.swift).
                try loop.register(completions.rawValue, interest: .readable) { [unowned self] _ in
                    completions.drain()
                    engine.spillsFinished()
                }
            }
            if let signals {
                try loop.register(signals.rawValue, interest: .readable) { [unowned self] _ in
                    let number = signals.readSignal() ?? 0
                    guard number != SIGHUP else { return hangUpReceived() }
                    logger.info("received signal \(number), shutting down")
                    loop.stop()
                }
            }
            loop.timeoutMilliseconds = { [unowned self] in millisecondsUntilNextDeadline() }
            loop.onWake = { [unowned self] in
                timed(\.deadlines) { engine.fireDeadlines() }
                advanceDeferredWork()
                if acceptPause.isPaused, clock.monotonicNanoseconds() >= acceptPause.retryAt { resumeAccepting() }
                if cluster != nil { clusterPassEnded() }  // StoreServer+Cluster.swift
            }
            loop.betweenRounds = { [unowned self] in timed(\.flush) { writeRepliesSoFar() } }
            loop.beforeSleep = { [unowned self] in timed(\.flush) { flushAll() } }
            loop.passEnded = { [unowned self] in passEnded(startedAt: $0) }
            // A second of quiet after work: give the heap's freed memory back, so that the store's RSS
            // follows what it holds now rather than its busiest moment (see plasma_heap.h).
            loop.onIdle = { _ = plasma_heap_trim() }
            startPopulation()
            announceReady()
            try loop.run()
        } catch {
            shutDown()
            throw .system(error)
        }
        shutDown()
    }

    private func shutDown() {
        announceStopping()
        stopPopulation()
        detachCluster()
        socketFile.close()
        preWakeTimer?.close()
        preWakeTimer = nil
        for connection in Array(connections.values) { close(connection, reason: nil) }
        externalStore?.removeAll()  // waits for its writes; spilled objects live as long as the store
        logger.info("store stopped; socket \(configuration.socketPath) \(socketFile.inode == nil ? "left to the service manager" : "removed")")
    }

    private func millisecondsUntilNextDeadline() -> Int32 {
        if hasDeferredWork { return 0 }
        if cluster != nil, clusterHasPendingWork { return 0 }  // StoreServer+Cluster.swift
        if preWakePolls() { return 0 }  // StoreServer+PreWake.swift
        var next = engine.nextDeadline
        if acceptPause.isPaused { next = min(next ?? .max, acceptPause.retryAt) }
        if let retry = clusterNextDeadline { next = min(next ?? .max, retry) }  // StoreServer+Cluster.swift
        guard let deadline = next else { return -1 }
        let now = clock.monotonicNanoseconds()
        guard deadline > now else { return 0 }
        // Round up so that we never wake a hair early and spin.
        return Int32(min((deadline - now + 999_999) / 1_000_000, UInt64(Int32.max)))
    }

    // MARK: Accepting

    private func acceptAll() {
        while true {
            let socket: UnixSocket
            do {
                guard let accepted = try socketFile.listener.accept() else { return backlogDrained() }
                socket = accepted
            } catch {
                if error.errno == .connectionAbort { continue }  // that client gave up while queued
                return pauseAccepting(error)
            }
            accept(socket)
        }
    }

    /// Out of descriptors (or another accept failure, which retrying at once wouldn't cure either): the
    /// listener leaves epoll (see AcceptPause) until `resumeAccepting`.
    private func pauseAccepting(_ error: SystemError) {
        loop.unregister(socketFile.listener.rawValue)
        guard acceptPause.failed(now: clock.monotonicNanoseconds()) else { return }  // logged already
        if AcceptPause.isShortage(error.errno) {
            logger.warning("out of descriptors with \(connections.count) clients connected (\(error)): not accepting until a connection closes; clients wait in the backlog. Raise the descriptor limit (ulimit -n) or lower --max-clients")
        } else {
            logger.error("accept failed: \(error); not accepting until a connection closes or a second passes")
        }
    }

    /// Puts the listener back and accepts what waited; called when a connection closes (a descriptor
    /// freed) and on the pause's retry timer.
    private func resumeAccepting() {
        guard acceptPause.isPaused, !loop.isStopping else { return }
        do {
            try loop.register(socketFile.listener.rawValue, interest: .readable) { [unowned self] _ in acceptAll() }
        } catch {
            return  // no memory for epoll either: the retry timer tries again
        }
        acceptPause.resumed()
        acceptAll()
    }

    private func backlogDrained() {
        guard let episode = acceptPause.drained(now: clock.monotonicNanoseconds()) else { return }
        logger.warning("accepting again after \(episode.nanoseconds / 1_000_000) ms short of descriptors: \(episode.failedAccepts) accept attempts failed (waiting connections, and a retry a second)")
    }

    /// Client limits wait for the first 8 bytes, which tell the dialect (StoreServer+DialectLimits.swift).
    private func accept(_ socket: UnixSocket) {
        let peer = try? socket.peerCredentials()
        let connection = Connection(
            socket: socket, client: engine.connect(), peer: peer, eventLimit: configuration.clientEventBufferBytes)
        do {
            try loop.register(socket.rawValue, interest: .readable) { [unowned self, unowned connection] event in
                handle(event, on: connection)
            }
        } catch {
            logger.error("cannot watch \(connection.peerDescription): \(error)")
            engine.disconnect(connection.client)
            socket.close()
            return
        }
        connections[connection.client] = connection
        logger.debug("connected \(connection.peerDescription)")
        admitUndetermined(connection)  // may close the oldest silent one (StoreServer+DialectLimits.swift)
    }

    // MARK: Reading

    private func handle(_ event: Epoll.Event, on connection: Connection) {
        // Light clients first: one that may bring a big frame is read after every other ready
        // descriptor, and after the replies made so far are written (`writeRepliesSoFar`). Its first
        // read can fault in new pages for a millisecond or more (StoreServer+Pacing.swift).
        if connection.mayBringBigFrame, !loop.isDispatchingLater { return loop.dispatchLater() }
        if event.hangup, connection.listBuild != nil { abandonListBuild(of: connection) }  // +Lists.swift
        if event.writable { flush(connection) }
        if event.readable || event.hangup, !connection.isClosed { readAvailable(connection) }
    }

    private func readAvailable(_ connection: Connection) {
        // Bounded per wakeup so that one busy client can't starve the others (epoll is level-triggered);
        // a big frame arriving is read 256 KiB per wakeup, not 4 MiB (a pass of ~30 ms under load).
        for iteration in 0..<16 {
            if iteration >= 1, connection.partialFrameBytes > 0 { return }
            // A paused connection's socket waits: its buffered frames come first (StoreServer+Pacing.swift).
            // Checked first, so that it takes neither the pass's big read nor an owed one.
            guard !connection.isClosed, !connection.framesPaused else { return }
            // A connection that may bring a big frame (Connection.mayBringBigFrame): once the pass has
            // spent its work budget, it is read in a later pass (the bytes of a big frame are work:
            // readBytesWork); the socket stays readable (level-triggered). A light client is read at once.
            let mayBringBigFrame = connection.mayBringBigFrame
            var readsOwed = false
            if pacing.workDone >= PassPacing.passWork, mayBringBigFrame {
                // They come after the light clients (`handle`), whose requests can spend the budget in
                // every pass: a pass after one in which such a connection went without owes one read.
                guard pacing.bigFrameReadOwed else {
                    pacing.bigFrameWentWithout = true
                    return
                }
                pacing.bigFrameReadOwed = false
                readsOwed = true
            }
            // And once the pass has run its time, after one such read at least (so that big frames
            // progress). Not only partial frames: 200 new connections each opening with a big frame
            // made passes of 7-17 ms, four first reads of 256 KiB each landing in new pages.
            let passReadOneAlready = pacing.readBigFrame
            if mayBringBigFrame, passReadOneAlready, passHasRunItsTime { return }
            if mayBringBigFrame { pacing.readBigFrame = true }
            let count: Int?
            // The rest of a big frame is read a little at a time: its bytes land in pages touched for the
            // first time (StoreServer+Pacing.swift, `partialFrameReadBytes`). So are a connection's first
            // bytes (which may open one) once the pass has read from such a connection; the first of a
            // pass gets a whole read, so that a lone client's pipelined frames arrive whole, as complete
            // frames (BigRequestPacingTests.framesHeldBehindABigGetDoNotCloseAClientNearItsShare). An
            // owed read, over the budget, is little too.
            let readsLittle = connection.partialFrameBytes > 0 || readsOwed
                || (connection.dialect == .undetermined && passReadOneAlready)
            let readSize = readsLittle ? PassPacing.partialFrameReadBytes : readBuffer.count
            do {
                count = try readBuffer.withUnsafeMutableBytes { whole in
                    let raw = UnsafeMutableRawBufferPointer(rebasing: whole[..<readSize])
                    return Result { () throws(SystemError) in
                        if connection.dialect == .native { return try connection.socket.read(into: raw) }
                        // Arrow clients pass an fd (1 byte + SCM_RIGHTS) after Subscribe: a plain read
                        // would consume the byte and the kernel would drop the fd.
                        return try connection.socket.receive(into: raw, descriptors: &connection.receivedDescriptors)
                    }
                }.get()
            } catch {
                // A peer that exits with replies unread resets the connection: that's its way of leaving.
                return close(connection, reason: error.errno == .connectionReset ? nil : "read failed: \(error)")
            }
            guard let count else { return }
            guard count > 0 else {
                let leftover = connection.inbound.count
                return close(connection, reason: leftover > 0 ? "disconnected in the middle of a frame (\(leftover) bytes)" : nil)
            }
            received(count, on: connection)
            // No client passes a descriptor before its first 8 bytes say which protocol it speaks (Arrow's
            // comes after Subscribe): holding them would let a connection that never says pin descriptors.
            if connection.dialect == .undetermined, !connection.receivedDescriptors.isEmpty, !connection.isClosed {
                return close(connection, reason: "passed descriptors before its first 8 bytes said which protocol it speaks")
            }
            if count < readSize { return }
        }
    }

    /// Frames what arrived; decodes straight from the read buffer when no partial frame is pending.
    private func received(_ count: Int, on connection: Connection) {
        if connection.inbound.isEmpty {
            let consumed = readBuffer.withUnsafeBytes { raw in
                processFrames(UnsafeRawBufferPointer(rebasing: raw[..<count]), on: connection)
            }
            if consumed < count, !connection.isClosed {
                // Charged before it is copied: a partial frame that doesn't fit is never buffered.
                guard chargeInbound(count - consumed, on: connection) else { return }  // StoreServer+Budget.swift
                // Sized for the whole frame at once: its pages are touched only as bytes arrive.
                connection.inbound.reserveCapacity(max(count - consumed, connection.partialFrameBytes))
                connection.inbound.append(contentsOf: readBuffer[consumed..<count])
                readBytesWork(count - consumed)
            }
        } else {
            connection.inbound.append(contentsOf: readBuffer[..<count])
            readBytesWork(count)
            let consumed = connection.inbound.withUnsafeBytes { raw in processFrames(raw, on: connection) }
            if !connection.isClosed {
                connection.inbound.removeFirst(consumed)
                _ = settleInbound(connection)
            }
        }
    }

    /// Executes every complete frame in `raw`; returns the bytes consumed. Closes the connection on a
    /// malformed frame.
    private func processFrames(_ raw: UnsafeRawBufferPointer, on connection: Connection) -> Int {
        var offset = 0
        if pausesBeforeFrames(on: connection) { return 0 }
        frameArrived(on: connection)  // StoreServer+PreWake.swift
        connection.partialFrameBytes = 0  // set again (admitFrame) if a partial frame is left
        // A doomed connection (closeReason set) runs nothing more: its replies would be dropped, and a
        // list it pipelined would be built whole, at once, for nobody.
        while !connection.isClosed, connection.closeReason == nil {
            let rest = UnsafeRawBufferPointer(rebasing: raw[offset...])
            if connection.dialect == .undetermined {
                guard rest.count >= 8 else { return offset }
                if rest.loadUnaligned(as: UInt64.self) == 0 {
                    // Arrow's version field, 0: StoreServer+Arrow.swift
                    guard startArrowSession(connection) else { return offset }
                } else {
                    guard FrameHeader.looksNative(rest) else {
                        close(connection, reason: "sent bytes that are not a plasma frame")
                        return offset
                    }
                    connection.dialect = .native
                    guard admitNativeClient(connection) else { return offset }
                    for descriptor in connection.receivedDescriptors { UnixSocket(rawValue: descriptor).close() }
                    connection.receivedDescriptors.removeAll()
                }
            }
            if connection.dialect == .arrow { return offset + processArrowFrames(rest, on: connection) }
            let header: FrameHeader
            do {
                guard let decoded = try FrameHeader.decode(rest, maxPayload: configuration.wireLimits.maxPayload)
                else { return offset }
                header = decoded
            } catch {
                close(connection, reason: "malformed frame header: \(error)", tellClient: true)
                return offset
            }
            let frameSize = FrameHeader.size + header.payloadLength
            guard rest.count >= frameSize else {
                _ = admitFrame(of: frameSize, on: connection)
                return offset
            }
            let payload = UnsafeRawBufferPointer(rebasing: rest[FrameHeader.size..<frameSize])
            let request: Request
            do {
                request = try Request.decode(type: header.type, payload: payload, limits: configuration.wireLimits)
            } catch {
                close(connection, reason: "malformed request (type \(header.type)): \(error)", tellClient: true)
                return offset
            }
            if case .create(_, let dataSize, let metadataSize, _) = request { connection.createBytes = dataSize &+ metadataSize }
            native.handle(request, requestID: header.requestID, from: connection.client)
            offset += frameSize
            if pausesAfter(work(of: request), on: connection, more: offset < raw.count) { return offset }
        }
        return offset
    }

    /// A paused connection's turn came (StoreServer+Pacing.swift): runs its buffered frames.
    func resumeFrames(_ connection: Connection) {
        guard !connection.inbound.isEmpty else { return }
        let consumed = connection.inbound.withUnsafeBytes { raw in processFrames(raw, on: connection) }
        guard !connection.isClosed else { return }
        connection.inbound.removeFirst(consumed)
        _ = settleInbound(connection)
    }

    // MARK: Writing

    private func enqueue(_ reply: Reply, type: MessageType, requestID: UInt64, for client: ClientID) {
        guard let connection = connections[client], !connection.isClosed, connection.closeReason == nil else { return }
        guard !doomIfNotReadingReplies(connection) else { return }
        let queuedBefore = connection.outbound.pendingBytes
        if case .connected = reply { connection.outbound.attachDescriptorToNextByte(arena.descriptor) }
        reply.encode(type: type, requestID: requestID, into: &connection.outbound.writer)
        nativeReplied(reply, type: type, on: connection)  // StoreServer+PreWake.swift
        guard chargeQueuedReply(on: connection, queuedBefore: queuedBefore) else { return }
        schedule(connection)
    }

    /// Before a reply is queued: a client with more than `--max-pending-reply-bytes` unread is not
    /// reading them, and goes. True when it was doomed (not closed here: callers may be inside an engine
    /// call, and closing re-enters the engine).
    func doomIfNotReadingReplies(_ connection: Connection) -> Bool {
        guard connection.outbound.pendingBytes > configuration.maxPendingReplyBytes else { return false }
        connection.closeReason = "stopped reading replies (\(connection.outbound.pendingBytes) bytes queued, limit \(configuration.maxPendingReplyBytes))"
        doom(connection)
        return true
    }

    /// After a reply was queued (with `queuedBefore` bytes already pending): it exists, so it is charged
    /// whatever the budget says; a client that gets one over its share while earlier ones wait unread is
    /// not reading them, and goes. `asked`: the bytes named in the log (default: the reply's). False
    /// when it was doomed.
    func chargeQueuedReply(on connection: Connection, queuedBefore: Int, asked: Int? = nil, while doing: String = "") -> Bool {
        guard !budget.force(.outboundReplies, to: connection.outbound.heldBytes, for: connection.account), queuedBefore > 0
        else { return true }
        let bytes = asked ?? connection.outbound.pendingBytes - queuedBefore
        connection.closeReason = "stopped reading replies (\(connection.outbound.pendingBytes) bytes queued)\(doing) over the client-state budget: \(budget.describe(bytes, for: connection.account))"
        doom(connection)
        return false
    }

    /// A subscription event for a native connection: queued behind its replies, dropped past its limit.
    func enqueueNative(_ event: ObjectEvent, subscriptionID: UInt64, on connection: Connection) {
        let room = eventRoom(connection)
        let dropped = connection.events.append(event, subscriptionID: subscriptionID, room: room)
        budget.force(.events, to: connection.events.byteCount, for: connection.account)
        if dropped > 0 {
            if room < connection.events.limit { budget.countRefusal() }
            counters.droppedEvents += dropped
            logger.debug("\(connection.peerDescription) reads events too slowly: dropped \(dropped), sent an overflow marker")
        }
        schedule(connection)
    }

    func schedule(_ connection: Connection) {
        guard !connection.isScheduled else { return }
        connection.isScheduled = true
        unflushed.append(connection)
    }

    /// The replies the pass's light requests made, written before it reads big frames and does its
    /// sliced work (`flushAll` writes the rest, and the events, at its end): under `plasma-bench hostile`
    /// a small get's reply otherwise waited for a whole pass of attackers' work.
    private func writeRepliesSoFar() {
        for connection in unflushed where connection.isScheduled && !connection.outbound.isEmpty {
            guard connection.closeReason == nil else { continue }  // doomed: flushAll closes it
            flushScheduled(connection)
        }
    }

    private func flushAll() {
        for connection in doomed { close(connection, reason: connection.closeReason) }
        doomed.removeAll()
        // Replies first: a client waiting for one (a producer's seal) shouldn't wait behind the sends
        // of the events that seal caused to other connections.
        writeRepliesSoFar()
        swap(&unflushed, &flushing)
        handOutArrowEvents()  // StoreServer+Arrow.swift
        for connection in flushing where connection.isScheduled { flushScheduled(connection) }
        // A connection closed by those writes (EPIPE) may have made events (its deletes finished):
        // they go now, not after the loop's next wait.
        handOutArrowEvents()
        flushing.removeAll(keepingCapacity: true)
    }

    private func flushScheduled(_ connection: Connection) {
        connection.isScheduled = false
        if !connection.isClosed && !connection.waitingForWritable { flush(connection) }
    }

    /// Writes replies, then the events queued behind them; what the socket won't take waits for
    /// writability. Events move to the reply buffer only when it has drained, so that at most one
    /// queue's worth of them is beyond dropping.
    private func flush(_ connection: Connection) {
        do {
            while true {
                if connection.outbound.isEmpty, !connection.events.isEmpty {
                    connection.events.take(into: &connection.outbound.writer.buffer)
                }
                if connection.outbound.isEmpty { break }
                let flushed = try connection.outbound.flush(to: connection.socket)
                settleOutput(connection)
                if flushed == .wouldBlock {
                    if !connection.waitingForWritable {
                        connection.waitingForWritable = true
                        try loop.modify(connection.socket.rawValue, interest: [.readable, .writable])
                    }
                    return
                }
            }
            if connection.waitingForWritable {
                connection.waitingForWritable = false
                try loop.modify(connection.socket.rawValue, interest: .readable)
            }
        } catch {
            // The peer closed its end (it exited, or hung up after its last request): an orderly end.
            let peerGone = error.errno == .brokenPipe || error.errno == .connectionReset
            close(connection, reason: peerGone ? nil : "write failed: \(error)")
        }
    }

    // MARK: Closing

    /// Ends a connection: the engine undoes the client's state (a transaction), the socket closes.
    /// `reason` nil means an orderly close; anything else is logged as a warning.
    func close(_ connection: Connection, reason: String?, tellClient: Bool = false) {
        guard !connection.isClosed else { return }
        if let reason, tellClient, connection.dialect == .native {
            // Best effort, never blocking: a native client learns why (request id 0 = the store itself).
            Reply.failure(.invalidRequest, message: reason).encode(type: .connect, requestID: 0, into: &connection.outbound.writer)
            _ = try? connection.outbound.flush(to: connection.socket)
        }
        connection.isClosed = true
        if let reason {
            let (log, suppressed) = disconnectLog.admit(now: clock.monotonicNanoseconds())
            if log {
                let more = suppressed > 0 ? " (\(suppressed) similar lines suppressed before this one)" : ""
                logger.warning("disconnecting \(connection.peerDescription): \(reason)\(more)")
            }
        } else {
            logger.debug("disconnected \(connection.peerDescription)")
        }
        releaseAdmission(of: connection)
        loop.unregister(connection.socket.rawValue)
        connection.socket.close()
        releaseDescriptors(of: connection)  // an Arrow subscriber's notification socket, unclaimed fds
        connections[connection.client] = nil
        // A partial frame or unread replies of megabytes: freed off the loop (BufferRelease.swift).
        BufferRelease.shared.release(&connection.inbound)
        connection.outbound.releaseStorage(to: .shared)
        engine.disconnect(connection.client)
        if connection.dialect == .arrow { arrow.clientLeft(connection.client) }
        budget.closeAccount(connection.account)  // after the engine: its waits are in the account
        if acceptPause.isPaused { resumeAccepting() }  // a descriptor just freed
    }

    // MARK: Introspection for the daemon and tests

    public var statistics: StoreStatistics { engine.statistics }
}

/// PlasmaPosix's clock is the engine's clock: the engine names only its protocol, PlasmaPosix knows no engine.
extension MonotonicClock: EngineClock {}
