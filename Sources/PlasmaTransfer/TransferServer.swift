import Glibc
import Logging
import PlasmaClusterCore
import PlasmaCore
import PlasmaPosix

/// The transfer listener: serves this node's sealed objects to peers that prove knowledge of the
/// cluster token (docs/TRANSFER.md). It binds exactly the address it is given; a thread accepts, and
/// each admitted peer gets a thread of its own with blocking sockets bounded by timeouts. Objects are
/// pinned through the ``TransferObjectSource`` for the duration of one pull and unpinned on every path.
///
/// `@unchecked Sendable`: its mutable state sits in a ``Guarded`` value; the rest is set in init.
public final class TransferServer: @unchecked Sendable {
    /// What the server binds, who it is, and its bounds.
    public struct Configuration: Sendable {
        /// Where to listen: `host:port` (an IPv4 literal, `[IPv6]` literal or a name; port 0: any free
        /// one, see ``TransferServer/port``). No wildcard is assumed: give `0.0.0.0` to mean it.
        public var address: String
        /// This node's name, bound into the handshake's proofs.
        public var nodeName: String
        /// The cluster's secret.
        public var token: ClusterToken
        /// Authenticated peers' connections served at once; a connection arriving beyond is closed at
        /// once (and counted).
        public var maxConnections: Int = 32
        /// Authenticated connections of one node (by the name it proved with the token) served at once.
        /// One more takes the place of that node's oldest idle connection, or is turned away before the
        /// handshake's verdict when all are busy (either counted), so that one member's bug can't take
        /// every place. 8: twice a puller's default threads.
        public var maxConnectionsPerNode: Int = 8
        /// Connections still in the handshake at once, whatever their address. A newcomer beyond takes
        /// the place of the oldest connection of the address with the most handshakes under way, which
        /// is closed (and counted): a token holder's handshake takes a few round trips, so silent
        /// connections are the ones that go.
        public var maxHandshakes: Int = 16
        /// Connections from one address (host, whatever the port) still in the handshake at once; one
        /// more from there is closed at once (and counted). 8: twice a puller's default threads, so two
        /// stores behind one address (NAT, or tests on loopback) that open all their connections at once
        /// are not refused.
        public var maxHandshakesPerAddress: Int = 8
        /// Time a peer has to complete the handshake after connecting.
        public var handshakeTimeout: Duration = .seconds(5)
        /// Time a peer may stay silent between pulls (or in the middle of a request) before it is closed.
        public var idleTimeout: Duration = .seconds(60)
        /// Time one send may make no progress (a peer that stops reading) before the pull is abandoned.
        public var sendTimeout: Duration = .seconds(30)
        /// How an object's bytes go out.
        public var sendMethod: SendMethod = .send

        /// A configuration with the default bounds.
        public init(address: String, nodeName: String, token: ClusterToken) {
            self.address = address
            self.nodeName = nodeName
            self.token = token
        }
    }

    /// How the server sends an object's bytes.
    public enum SendMethod: String, Sendable, CaseIterable {
        /// `sendfile` from the arena's memfd at the object's offset: no copy through user space on this
        /// side; the receiver then copies from the arena's own (cold) pages. Slower over loopback here
        /// (docs/TRANSFER.md); worth trying over a NIC that sends from pages without a copy.
        case sendfile
        /// `send` from the store's mapping of the object (the default: faster, and cheaper in CPU, in
        /// plasma-bench's `transfer` rows over loopback, docs/TRANSFER.md): the sender's copy leaves the
        /// bytes in cache for the receiver's.
        case send
    }

    /// Counters since start, for the store's stats.
    public struct Statistics: Sendable, Equatable {
        /// Connections admitted to the handshake.
        public var connectionsAccepted = 0
        /// Connections closed because ``Configuration/maxConnections`` were being served (at once, or
        /// at the end of a handshake that finished when the last place had just been taken), or because
        /// too many connections were still closing (``Configuration/maxConnections`` + 2 ×
        /// ``Configuration/maxHandshakes`` open).
        public var connectionsRefused = 0
        /// Connections closed at once because ``Configuration/maxHandshakesPerAddress`` connections from
        /// the same address were still in the handshake.
        public var connectionsRefusedForAddress = 0
        /// Connections of a node at its ``Configuration/maxConnectionsPerNode`` closed: its idle one
        /// for a newer, or the newer (at the end of its handshake) when none was idle.
        public var connectionsRefusedForNode = 0
        /// Connections closed in the handshake to make room for a newcomer
        /// (``Configuration/maxHandshakes``). Its handshake then fails and is usually counted there too
        /// (``handshakeFailures``, or ``authenticationFailures`` for a wrong proof already sent); not when
        /// it had just proved the token as it was closed.
        public var handshakesEvicted = 0
        /// Connections open now.
        public var activeConnections = 0
        /// Peers whose proof of the cluster token was wrong, or whose request carried a wrong session MAC
        /// (a relay's own request, a replay).
        public var authenticationFailures = 0
        /// Handshakes that failed otherwise: timeout, malformed greeting, peer gone.
        public var handshakeFailures = 0
        /// Pulls whose bytes were all sent.
        public var pullsServed = 0
        /// Pulls answered "not held" (absent, or held with other sizes).
        public var pullsNotHeld = 0
        /// Pulls abandoned mid-send: the peer went away or stopped reading.
        public var pullsAborted = 0
        /// Objects pinned now.
        public var objectsPinned = 0
        /// Object bytes sent.
        public var bytesSent: Int64 = 0

        /// Connections closed for want of a place, whichever: the sum of the four counts.
        public var connectionsRefusedForPlace: Int {
            connectionsRefused + connectionsRefusedForAddress + connectionsRefusedForNode + handshakesEvicted
        }
    }

    private struct Entry {
        let socket: TCPSocket
        /// `host:port`, for the log.
        let peer: String
        var thread: PosixThread?
    }

    private struct State {
        var statistics = Statistics()
        var connections: [Int: Entry] = [:]
        /// Who is in the handshake, who is served, by host and node: the connections' places.
        var admission: TransferAdmission
        var finished: [PosixThread] = []
        var stopping = false
        var authenticationWarnings = WarningRateLimit(burst: 5, intervalNanoseconds: 60_000_000_000)
        var placeWarnings = WarningRateLimit(burst: 5, intervalNanoseconds: 60_000_000_000)
    }

    private let configuration: Configuration
    private let source: any TransferObjectSource
    private let logger: Logger
    private let handshake: TransferHandshake
    private let state: Guarded<State>
    private var listener: TCPSocket?
    private var acceptor: PosixThread?
    /// The port bound (the given one, or the kernel's pick for port 0); 0 before ``start()``.
    public private(set) var port: UInt16 = 0

    /// A server that will pin objects through `source`; nothing is bound until ``start()``.
    public init(configuration: Configuration, source: any TransferObjectSource, logger: Logger) {
        self.configuration = configuration
        self.source = source
        self.logger = logger
        handshake = TransferHandshake(token: configuration.token, nodeName: configuration.nodeName)
        state = Guarded(State(admission: TransferAdmission(limits: .init(
            serving: configuration.maxConnections, servingPerNode: configuration.maxConnectionsPerNode,
            handshakes: configuration.maxHandshakes, handshakesPerAddress: configuration.maxHandshakesPerAddress))))
    }

    /// Binds ``Configuration/address`` and starts accepting. Call once.
    public func start() throws(TransferServerError) {
        precondition(listener == nil, "TransferServer.start() called twice")
        guard let endpoint = TCPEndpoint(parsing: configuration.address) else { throw .invalidAddress(configuration.address) }
        let bound: (socket: TCPSocket, port: UInt16)
        do { bound = try TCPSocket.listen(on: endpoint) } catch { throw .bind(configuration.address, error) }
        (listener, port) = (bound.socket, bound.port)
        do {
            acceptor = try PosixThread { [self] in acceptLoop(bound.socket) }
        } catch {
            bound.socket.close()
            listener = nil
            throw .thread(error)
        }
        logger.info("transfer: listening on \(configuration.address) (port \(port))")
    }

    /// Stops accepting, closes every connection (a send under way fails; its object is unpinned) and
    /// waits for every thread. Idempotent; from the owner only.
    ///
    /// A connection thread inside ``TransferObjectSource/pin(_:)`` is waited for too, so the source must
    /// still answer while this runs (nil once the store is shutting down): calling it from the thread
    /// that `pin` waits on, with `pin` waiting, would never return.
    public func stop() {
        guard let listener, let acceptor else { return }
        state.withLock { $0.stopping = true }
        listener.shutdown()  // wakes the blocked accept
        acceptor.join()
        listener.close()
        self.listener = nil
        self.acceptor = nil
        state.withLock { state in for entry in state.connections.values { entry.socket.shutdown() } }
        let threads = state.wait(until: { $0.connections.isEmpty }) { state in
            defer { state.finished.removeAll() }
            return state.finished
        }
        for thread in threads { thread.join() }
    }

    /// The counters now.
    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Peers refused for a wrong proof of the cluster token or a wrong session MAC since start.
    public var authenticationFailures: Int { statistics.authenticationFailures }

    // MARK: accepting

    private func acceptLoop(_ listener: TCPSocket) {
        while true {
            let accepted: (socket: TCPSocket, peer: String)
            do {
                accepted = try listener.accept()
            } catch {
                if state.withLock({ $0.stopping }) { return }
                switch error.errno {
                case .connectionAbort, .protocolError: continue
                case .tooManyOpenFiles, .tooManyOpenFilesInSystem, .noMemory, .noBufferSpace:
                    // Out of descriptors or memory: the pending peer stays queued; try again shortly
                    // rather than spin.
                    logger.warning("transfer: accept failed: \(error)")
                    usleep(10_000)
                    continue
                default:
                    logger.error("transfer: accept failed, no more peers will be served: \(error)")
                    return
                }
            }
            admit(accepted.socket, peer: accepted.peer)
            let done = state.withLock { state in
                defer { state.finished.removeAll() }
                return state.finished
            }
            for thread in done { thread.join() }
        }
    }

    /// `peer` without its port (`1.2.3.4:5` → `1.2.3.4`, `[::1]:5` → `[::1]`).
    static func host(of peer: String) -> String {
        guard let colon = peer.lastIndex(of: ":") else { return peer }
        return String(peer[..<colon])
    }

    private func admit(_ socket: TCPSocket, peer: String) {
        let (id, refusal): (Int?, String?) = state.withLock { state in
            guard !state.stopping else { return (nil, nil) }
            switch state.admission.arrive(host: Self.host(of: peer)) {
            case .full:
                state.statistics.connectionsRefused += 1
                return (nil, "refused \(peer): all \(configuration.maxConnections) places are served")
            case .crowded:
                state.statistics.connectionsRefused += 1
                return (nil, "refused \(peer): \(state.connections.count) connections are open, many of them closing")
            case .addressBusy:
                state.statistics.connectionsRefusedForAddress += 1
                return (nil, "refused \(peer): \(configuration.maxHandshakesPerAddress) connections from its address are in the handshake")
            case .admitted(let id, let evicting):
                var refusal: String?
                if let evicting, let evicted = state.connections[evicting] {
                    // Under the lock: its thread closes the socket only after removing it from here.
                    evicted.socket.shutdown()
                    state.statistics.handshakesEvicted += 1
                    refusal = "closed \(evicted.peer), in the handshake, for \(peer): all \(configuration.maxHandshakes) handshake places were taken"
                }
                state.connections[id] = Entry(socket: socket, peer: peer)
                state.statistics.connectionsAccepted += 1
                state.statistics.activeConnections += 1
                return (id, refusal)
            }
        }
        if let refusal { warnAboutPlaces(refusal) }
        guard let id else {
            socket.close()
            return
        }
        do {
            let thread = try PosixThread { [self] in
                serve(socket, peer: peer, id: id)
                finish(id)
            }
            state.withLock { state in
                if state.connections[id] != nil { state.connections[id]!.thread = thread } else { state.finished.append(thread) }
            }
        } catch {
            logger.warning("transfer: no thread for peer \(peer): \(error)")
            finish(id)
        }
    }

    /// The connection's handshake ended, as `node` (nil: it failed): it no longer counts against its
    /// host's quota. Whether it may be served.
    private func handshakeEnded(_ id: Int, node: String?) -> Bool {
        let (served, refusal): (Bool, String?) = state.withLock { state in
            guard let node else {
                state.admission.handshakeFailed(id)
                return (false, nil)
            }
            let peer = state.connections[id]?.peer ?? "?"
            switch state.admission.authenticated(id, node: node) {
            case .serving(let evicting):
                guard let evicting, let evicted = state.connections[evicting] else { return (true, nil) }
                // Under the lock, as in `admit`. An idle connection: a pull that was just being asked on
                // it finds it closed before its reply, and the puller asks again on a fresh one.
                evicted.socket.shutdown()
                state.statistics.connectionsRefusedForNode += 1
                return (true, "closed \(evicted.peer), idle, for \(peer): node \(node) had \(configuration.maxConnectionsPerNode) connections served")
            case .evicted:
                return (false, nil)
            case .full:
                state.statistics.connectionsRefused += 1
                return (false, "refused \(peer) (node \(node)) after its handshake: all \(configuration.maxConnections) places are served")
            case .nodeBusy:
                state.statistics.connectionsRefusedForNode += 1
                return (false, "refused \(peer): node \(node) has \(configuration.maxConnectionsPerNode) connections served")
            }
        }
        if let refusal { warnAboutPlaces(refusal) }
        return served
    }

    /// A connection closed for want of a place: a warning, at a bounded rate (the count is in the
    /// statistics either way).
    private func warnAboutPlaces(_ what: String) {
        let (log, suppressed) = state.withLock { $0.placeWarnings.admit(now: MonotonicClock.nanoseconds()) }
        guard log else { return }
        let held = suppressed > 0 ? " (\(suppressed) more such closings were not logged)" : ""
        logger.warning("transfer: \(what)\(held)")
    }

    /// The connection's end: forgotten (so that stop() won't shut it down any more), then closed.
    private func finish(_ id: Int) {
        let socket = state.withLock { state -> TCPSocket? in
            guard let entry = state.connections.removeValue(forKey: id) else { return nil }
            state.admission.left(id)
            if let thread = entry.thread { state.finished.append(thread) }
            state.statistics.activeConnections -= 1
            return entry.socket
        }
        socket?.close()
    }

    // MARK: one peer

    /// Connection `id`: its handshake, then its pulls until it closes.
    private func serve(_ socket: TCPSocket, peer: String, id: Int) {
        let clientName: String
        var session: TransferSession
        do {
            try socket.setTimeouts(receive: configuration.handshakeTimeout, send: configuration.handshakeTimeout)
            let deadline = MonotonicClock.nanoseconds() &+ UInt64(configuration.handshakeTimeout.nanosecondsClamped)
            // Admitted before the verdict goes out: a client turned away sees its handshake fail.
            (clientName, session) = try handshake.runAsServer(on: socket, before: deadline) { handshakeEnded(id, node: $0) }
            try socket.setTimeouts(receive: configuration.idleTimeout, send: configuration.sendTimeout)
        } catch let fault as TransferFault {
            _ = handshakeEnded(id, node: nil)
            if case .noPlace = fault { return }  // counted and warned of as a place refused
            refused(peer: peer, fault)
            if case .wrongProof = fault { handshake.refuse(on: socket) }
            return
        } catch {
            _ = handshakeEnded(id, node: nil)
            refused(peer: peer, TransferFault(error as! SystemError))
            return
        }
        while true {
            var message = [UInt8](repeating: 0, count: TransferWire.requestBytes + TransferWire.macBytes)
            do {
                try socket.receiveExactly(&message)
            } catch {
                if case .closed = error { return }  // the peer is done
                logger.debug("transfer: peer \(peer) (node \(clientName)) closed: \(error)")
                return
            }
            // Authenticated before anything is read from it, let alone pinned: a relay that forwarded
            // someone else's handshake can't make this MAC.
            let request = Array(message.prefix(TransferWire.requestBytes))
            guard session.isValidRequest(request, mac: message.suffix(TransferWire.macBytes)) else {
                refused(peer: peer, .wrongMAC)
                return
            }
            guard let pull = TransferWire.Request(decoding: request) else {
                logger.debug("transfer: peer \(peer) (node \(clientName)) sent a malformed request; closed")
                return
            }
            // An idle connection can be evicted for its node's newer one (`handshakeEnded`).
            guard state.withLock({ $0.admission.pullBegan(id) }) else { return }
            let goesOn = serve(pull, on: socket, peer: peer, session: session)
            state.withLock { $0.admission.pullEnded(id) }
            guard goesOn else { return }
            session.advance()
        }
    }

    /// A failed handshake, or a request with a wrong session MAC: the latter and a wrong proof are
    /// authentication failures (counted, and warned of at a bounded rate).
    private func refused(peer: String, _ fault: TransferFault) {
        let isAuthentication: Bool
        switch fault {
        case .wrongProof, .wrongMAC: isAuthentication = true
        default: isAuthentication = false
        }
        guard isAuthentication else {
            state.withLock { $0.statistics.handshakeFailures += 1 }
            logger.debug("transfer: handshake with \(peer) failed: \(fault)")
            return
        }
        let (log, suppressed) = state.withLock { state in
            state.statistics.authenticationFailures += 1
            return state.authenticationWarnings.admit(now: MonotonicClock.nanoseconds())
        }
        if log {
            let held = suppressed > 0 ? " (\(suppressed) more such refusals were not logged)" : ""
            logger.warning("transfer: refused peer \(peer): \(fault)\(held)")
        }
    }

    /// One pull; false when the connection can't go on.
    private func serve(_ pull: TransferWire.Request, on socket: TCPSocket, peer: String, session: TransferSession) -> Bool {
        guard let pinned = source.pin(pull.id) else {
            state.withLock { $0.statistics.pullsNotHeld += 1 }
            return (try? socket.send(session.sealReply(TransferWire.reply(.notHeld, dataSize: 0, metadataSize: 0)))) != nil
        }
        state.withLock { $0.statistics.objectsPinned += 1 }
        defer {
            source.unpin(pinned)
            state.withLock { $0.statistics.objectsPinned -= 1 }
        }
        guard pinned.dataSize == pull.dataSize, pinned.metadataSize == pull.metadataSize else {
            state.withLock { $0.statistics.pullsNotHeld += 1 }
            let reply = TransferWire.reply(.otherSizes, dataSize: pinned.dataSize, metadataSize: pinned.metadataSize)
            return (try? socket.send(session.sealReply(reply))) != nil
        }
        let total = pinned.dataSize + pinned.metadataSize
        var sent = 0
        do {
            try socket.send(session.sealReply(TransferWire.reply(.sending, dataSize: pinned.dataSize, metadataSize: pinned.metadataSize)))
            var hash = XXH64.Stream(seed: session.seed)
            sent = try stream(pinned, total: total, on: socket, hashing: &hash)
            try socket.send(session.sealTrailer(checksum: hash.digest))
        } catch {
            logger.debug("transfer: pull of \(pull.id.hex) by \(peer) abandoned: \(error)")
            state.withLock {
                $0.statistics.pullsAborted += 1
                $0.statistics.bytesSent += Int64(sent)
            }
            return false
        }
        state.withLock {
            $0.statistics.pullsServed += 1
            $0.statistics.bytesSent += Int64(total)
        }
        return true
    }

    /// How many bytes are hashed then sent at a time: the chunk is still in cache when it is sent.
    static let sendChunk = 256 << 10

    /// Sends the object's `total` bytes, hashing each chunk into `hash` just before it goes; how many
    /// went.
    private func stream(_ pinned: PinnedObject, total: Int, on socket: TCPSocket, hashing hash: inout XXH64.Stream) throws(TransferFault) -> Int {
        var sent = 0
        do {
            guard pinned.bytes.count >= total || configuration.sendMethod == .sendfile else {
                throw TransferFault.protocolViolation("the pinned mapping has \(pinned.bytes.count) of \(total) bytes")
            }
            while sent < total {
                let end = min(total, sent + Self.sendChunk)
                // The mapping's bytes are what the memfd holds at the same offset (sendfile sends those).
                if sent < pinned.bytes.count {
                    hash.update(UnsafeRawBufferPointer(rebasing: pinned.bytes[sent..<min(end, pinned.bytes.count)]))
                }
                switch configuration.sendMethod {
                case .sendfile:
                    while sent < end {
                        let count = try socket.sendFile(from: pinned.arenaDescriptor, offset: pinned.offset + sent, count: end - sent)
                        // 0: the file ends before the object does (a wrong offset): don't spin on it.
                        guard count > 0 else { throw TransferFault.protocolViolation("sendfile sent nothing at \(pinned.offset + sent)") }
                        sent += count
                    }
                case .send:
                    try socket.sendAll(UnsafeRawBufferPointer(rebasing: pinned.bytes[sent..<end]))
                    sent = end
                }
            }
        } catch let fault as TransferFault {
            throw fault
        } catch {
            throw TransferFault(error as! SystemError)
        }
        return sent
    }
}

/// Why a transfer server couldn't start.
public enum TransferServerError: Error, Sendable, CustomStringConvertible {
    /// The address isn't `host:port`.
    case invalidAddress(String)
    /// Binding or listening failed (address in use, not local, ...).
    case bind(String, SystemError)
    /// No thread could be started.
    case thread(SystemError)

    /// A sentence for the log.
    public var description: String {
        switch self {
        case .invalidAddress(let address): "transfer address '\(address)' is not host:port"
        case .bind(let address, let error): "can't listen on transfer address \(address): \(error)"
        case .thread(let error): "can't start the transfer thread: \(error)"
        }
    }
}

extension Duration {
    /// Nanoseconds, clamped to 0...Int64.max.
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product &+ attoseconds / 1_000_000_000
    }
}
