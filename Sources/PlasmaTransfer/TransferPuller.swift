import Logging
import PlasmaClusterCore
import PlasmaCore
import PlasmaPosix

/// The data plane's client (``ObjectPuller``): pulls objects from peers' ``TransferServer``s on a small
/// pool of threads, straight into the block the store reserves once the holder confirmed the sizes,
/// hashing the bytes as they arrive (a big object's on a second thread per pull thread, beside the
/// receive). Connections are
/// authenticated once and kept per peer for the next pull (a few per peer, for a while).
///
/// `@unchecked Sendable`: its mutable state sits in a ``Guarded`` value; the rest is set in init.
public final class TransferPuller: ObjectPuller, @unchecked Sendable {
    /// Who this node is and the puller's bounds.
    public struct Configuration: Sendable {
        /// This node's name, bound into the handshake's proofs.
        public var nodeName: String
        /// The cluster's secret.
        public var token: ClusterToken
        /// Pulls under way at once (threads of the pool); more wait their turn in order.
        public var maxConcurrentPulls = 4
        /// Time to establish a TCP connection to a peer.
        public var connectTimeout: Duration = .seconds(3)
        /// Time the handshake may take, and one receive or send may wait without progress.
        public var ioTimeout: Duration = .seconds(30)
        /// A pull (from its request to its trailer, once connected) may take this long plus its size
        /// at ``pullDeadlineRate``: a peer that drip-feeds the bytes, each just inside ``ioTimeout``,
        /// can't hold a pull thread and its reserved block for longer.
        public var pullDeadlineBase: Duration = .seconds(5)
        /// The slowest rate (bytes a second) a pull's deadline allows for: 16 MiB/s, a 1 GiB pull gets
        /// 5 s + 64 s.
        public var pullDeadlineRate = 16 << 20
        /// Idle connections kept per peer.
        public var idleConnectionsPerPeer = 2
        /// An idle connection older than this is closed rather than reused (below the server's idle
        /// timeout, so that a reused connection is rarely one the server has just closed).
        public var reuseWithin: Duration = .seconds(30)

        /// A configuration with the default bounds.
        public init(nodeName: String, token: ClusterToken) {
            self.nodeName = nodeName
            self.token = token
        }
    }

    /// Counters since start, for the store's stats.
    public struct Statistics: Sendable, Equatable {
        /// Pulls whose bytes all arrived with the location's checksum.
        public var pullsSucceeded = 0
        /// Pulls that failed, for any reason.
        public var pullsFailed = 0
        /// Bytes received into targets (including those of pulls that failed).
        public var bytesReceived: Int64 = 0
        /// Peers that refused this node's proof, whose own proof or reply MAC was wrong, or that proved
        /// another node name than the location's.
        public var authenticationFailures = 0
        /// TCP connections opened (and authenticated or not).
        public var connectionsOpened = 0
        /// Pulls that started on a connection kept from an earlier pull.
        public var connectionsReused = 0
        /// Pulls waiting for a thread of the pool.
        public var queuedPulls = 0
    }

    private struct Job {
        let request: PullRequest
        let completion: @Sendable (Result<PulledCopy, PullFailure>) -> Void
    }

    private struct State {
        var jobs: [Job] = []
        var stopping = false
        var idle: [String: [PullConnection]] = [:]
        /// Connections a pull is running on, shut down by stop().
        var busy: [ObjectIdentifier: TCPSocket] = [:]
        var statistics = Statistics()
        var authenticationWarnings = WarningRateLimit(burst: 5, intervalNanoseconds: 60_000_000_000)
    }

    private let configuration: Configuration
    private let logger: Logger
    private let handshake: TransferHandshake
    private let state = Guarded(State())
    private var workers: [PosixThread] = []

    /// Starts the pool's ``Configuration/maxConcurrentPulls`` threads.
    public init(configuration: Configuration, logger: Logger) throws(SystemError) {
        self.configuration = configuration
        self.logger = logger
        handshake = TransferHandshake(token: configuration.token, nodeName: configuration.nodeName)
        for _ in 0..<max(1, configuration.maxConcurrentPulls) {
            // Each thread's hashing stage: a thread of its own that hashes a big pull's bytes while
            // the next ones land. Without it (no thread to be had) the pull hashes inline.
            let hasher = try? HashStage()
            do {
                workers.append(try PosixThread { [self] in
                    work(hasher: hasher)
                    hasher?.stop()
                })
            } catch {
                hasher?.stop()
                stop()
                throw error
            }
        }
    }

    /// Queues the pull; a thread of the pool runs it and calls `completion` there. After ``stop()``,
    /// `completion` runs at once with `.connection`.
    public func pull(_ request: PullRequest, completion: @escaping @Sendable (Result<PulledCopy, PullFailure>) -> Void) {
        let accepted = state.withLock { state in
            guard !state.stopping else { return false }
            state.jobs.append(Job(request: request, completion: completion))
            return true
        }
        if !accepted { completion(.failure(.connection("the puller is stopped"))) }
    }

    /// Fails the queued pulls and those under way (`.connection`: their connections are shut down),
    /// waits for the pool's threads, closes the kept connections. Idempotent; from the owner only.
    /// Completions run on the pool's threads and this waits for them: they must not wait for the thread
    /// that calls it.
    public func stop() {
        let (queued, idle) = state.withLock { state in
            state.stopping = true
            for socket in state.busy.values { socket.shutdown() }
            defer { (state.jobs, state.idle) = ([], [:]) }
            return (state.jobs, state.idle.values.flatMap { $0 })
        }
        for job in queued { job.completion(.failure(.connection("the puller stopped"))) }
        for worker in workers { worker.join() }
        workers = []
        for connection in idle { connection.close() }
        // A worker that finished after the first sweep put its connection back (or closed it).
        for connection in state.withLock({ state in defer { state.idle = [:] }; return state.idle.values.flatMap { $0 } }) {
            connection.close()
        }
    }

    /// The counters now.
    public var statistics: Statistics {
        state.withLock { state in
            var statistics = state.statistics
            statistics.queuedPulls = state.jobs.count
            return statistics
        }
    }

    /// Peers that refused this node's proof of the token, or failed to prove theirs, since start.
    public var authenticationFailures: Int { statistics.authenticationFailures }

    // MARK: the pool

    private func work(hasher: HashStage?) {
        while true {
            let job: Job? = state.wait(until: { !$0.jobs.isEmpty || $0.stopping }) { state in
                state.jobs.isEmpty ? nil : state.jobs.removeFirst()
            }
            guard let job else { return }
            let result = perform(job.request, hasher: hasher)
            state.withLock { state in
                if case .success = result { state.statistics.pullsSucceeded += 1 } else { state.statistics.pullsFailed += 1 }
            }
            job.completion(result)
        }
    }

    private func perform(_ target: PullRequest, hasher: HashStage?) -> Result<PulledCopy, PullFailure> {
        let location = target.location
        // Set once connected, and once per pull: a stale kept connection and its replacement share it
        // (the bound never doubles).
        var pullDeadline: UInt64?
        if let connection = takeIdle(location.transferAddress) {
            pullDeadline = deadline(for: location.totalSize)
            switch run(target, on: connection, deadline: pullDeadline!, hasher: hasher) {
            case .some(let result): return result
            case .none: break  // the kept connection had been closed: open a fresh one
            }
        }
        let connection: PullConnection
        do {
            state.withLock { $0.statistics.connectionsOpened += 1 }
            connection = try PullConnection.open(
                to: location.transferAddress, handshake: handshake,
                connectTimeout: configuration.connectTimeout, ioTimeout: configuration.ioTimeout)
        } catch {
            return .failure(failure(error, address: location.transferAddress, node: location.node))
        }
        let deadline = pullDeadline ?? deadline(for: location.totalSize)
        guard MonotonicClock.nanoseconds() < deadline else {
            connection.close()
            return .failure(.connection("\(location.transferAddress): the pull's deadline passed on a kept connection"))
        }
        return run(target, on: connection, deadline: deadline, hasher: hasher) ?? .failure(.connection("\(location.transferAddress): the connection closed before the reply"))
    }

    /// The pull on `connection`; nil when the connection turned out dead before the reply (stale).
    private func run(_ target: PullRequest, on connection: PullConnection, deadline: UInt64, hasher: HashStage?) -> Result<PulledCopy, PullFailure>? {
        let location = target.location
        // The location says which node holds the object; the handshake proved which node this is. A
        // location pointing elsewhere (written by an etcd writer without the token, or stale) fails.
        guard connection.peerName == location.node else {
            connection.close()
            return .failure(failure(.wrongNode(expected: location.node, proven: connection.peerName), address: connection.address, node: location.node))
        }
        var received = 0
        let key = ObjectIdentifier(connection)
        let stopping = state.withLock { state in
            if !state.stopping { state.busy[key] = connection.socket }
            return state.stopping
        }
        if stopping {
            connection.close()
            return .failure(.connection("the puller stopped"))
        }
        let outcome = connection.pull(target, deadline: deadline, hasher: hasher, bytesReceived: &received)
        state.withLock { state in
            state.busy[key] = nil
            state.statistics.bytesReceived += Int64(received)
        }
        switch outcome {
        case .success(let copy):
            keep(connection)
            return .success(copy)
        case .failure(let failure, let reusable):
            if reusable { keep(connection) } else { connection.close() }
            return .failure(failure)
        case .unauthentic(let fault):
            connection.close()
            return .failure(failure(fault, address: connection.address, node: location.node))
        case .stale(let fault):
            logger.debug("transfer: kept connection to \(connection.address) was closed (\(fault)); opening another")
            connection.close()
            return nil
        }
    }

    /// When a pull of `size` bytes that starts now must have ended (CLOCK_MONOTONIC ns).
    private func deadline(for size: Int) -> UInt64 {
        let rate = max(1, configuration.pullDeadlineRate)
        let transfer = Double(size) / Double(rate) * 1e9
        let total = Double(configuration.pullDeadlineBase.nanosecondsClamped) + transfer
        return MonotonicClock.nanoseconds() &+ (total >= 9e18 ? UInt64(9e18) : UInt64(total))
    }

    private func failure(_ fault: TransferFault, address: String, node: String) -> PullFailure {
        switch fault {
        case .refusedByPeer, .wrongProof, .wrongMAC, .wrongNode:
            let (log, suppressed) = state.withLock { state in
                state.statistics.authenticationFailures += 1
                return state.authenticationWarnings.admit(now: MonotonicClock.nanoseconds())
            }
            if log {
                let held = suppressed > 0 ? " (\(suppressed) more such failures were not logged)" : ""
                logger.warning("transfer: node \(node) at \(address): \(fault)\(held)")
            }
            return .authentication
        default:
            return .connection("\(address): \(fault)")
        }
    }

    private func takeIdle(_ address: String) -> PullConnection? {
        let oldest = MonotonicClock.nanoseconds() &- UInt64(configuration.reuseWithin.nanosecondsClamped)
        let (connection, expired) = state.withLock { state -> (PullConnection?, [PullConnection]) in
            var kept = state.idle[address] ?? []
            let expired = kept.filter { $0.lastUsed < oldest }
            kept.removeAll { $0.lastUsed < oldest }
            let connection = kept.popLast()
            state.idle[address] = kept.isEmpty ? nil : kept
            if connection != nil { state.statistics.connectionsReused += 1 }
            return (connection, expired)
        }
        for old in expired { old.close() }
        return connection
    }

    private func keep(_ connection: PullConnection) {
        let kept = state.withLock { state -> Bool in
            guard !state.stopping, (state.idle[connection.address]?.count ?? 0) < configuration.idleConnectionsPerPeer else { return false }
            state.idle[connection.address, default: []].append(connection)
            return true
        }
        if !kept { connection.close() }
    }
}
