/// Whom the transfer port lets in, and whom it lets go to make room (docs/SECURITY.md, "The transfer
/// port"). A pure value kept under the server's lock; the server acts on its answers.
///
/// Two pools, because only one of them can be told apart by who is in it:
/// - **Handshaking** connections haven't proved the token yet: anyone can open them, from any address.
///   They take at most ``Limits/handshakes`` places, and at most ``Limits/handshakesPerAddress`` from one
///   host. When the pool is full a newcomer takes the place of the oldest connection of the host with
///   the most handshakes under way: a peer that holds the token finishes in a few round trips from an
///   address of its own, so the connections that go are silent ones from the busiest address, and an
///   attacker needs as many addresses as there are places, plus a connection rate above a token
///   holder's handshake time, to keep one out (before, silent connections from a few addresses held
///   every place for the whole handshake timeout).
/// - **Serving** connections are authenticated, so they are counted per node: at most
///   ``Limits/servingPerNode`` for one node name, and ``Limits/serving`` in all. One member's bug (a
///   runaway puller) can't take every place from the others; it is no defence against a token holder,
///   who can prove any name. A node at its share that opens one more takes the place of its own oldest
///   idle connection: after a crash and restart, the connections its previous run left open (until the
///   idle timeout) don't keep it out.
struct TransferAdmission {
    /// The bounds.
    struct Limits {
        var serving: Int
        var servingPerNode: Int
        var handshakes: Int
        var handshakesPerAddress: Int
    }

    /// Where a connection stands.
    enum Phase: Equatable {
        /// Before the proof; its host's place.
        case handshaking(host: String)
        /// Authenticated as `node`; `busy` while a pull is served on it.
        case serving(node: String, busy: Bool)
        /// Let go (evicted or refused after its handshake): its thread is on its way out.
        case leaving
    }

    /// A new connection's fate.
    enum Arrival: Equatable {
        /// In, as `id`; `evicting`: the handshaking connection it replaces, to be shut down.
        case admitted(id: Int, evicting: Int?)
        /// Refused: every serving place is taken.
        case full
        /// Refused: ``Limits/serving`` + 2 × ``Limits/handshakes`` connections exist, many of them
        /// still leaving (their threads haven't noticed yet).
        case crowded
        /// Refused: its host has ``Limits/handshakesPerAddress`` handshakes under way.
        case addressBusy
    }

    /// An authenticated connection's fate.
    enum Authentication: Equatable {
        /// Served; `evicting`: this node's idle connection it replaces, to be shut down.
        case serving(evicting: Int?)
        /// Every serving place is taken.
        case full
        /// Its node has ``Limits/servingPerNode`` connections served, all busy.
        case nodeBusy
        /// It was evicted while it finished: its socket is shut down already.
        case evicted
    }

    let limits: Limits
    private(set) var phases: [Int: Phase] = [:]
    private var handshakingByHost: [String: Int] = [:]
    private var servingByNode: [String: Int] = [:]
    /// Connections in the handshake, and served: sums of the per-host and per-node counts (a few
    /// dozen entries at most), so that no third count has to be kept in step.
    var handshaking: Int { handshakingByHost.values.reduce(0, +) }
    var serving: Int { servingByNode.values.reduce(0, +) }
    private var nextID = 0

    init(limits: Limits) { self.limits = limits }

    /// A connection from `host` was accepted.
    mutating func arrive(host: String) -> Arrival {
        guard serving < limits.serving else { return .full }
        // Leaving connections still hold a thread until it notices its shut-down socket: bounded too.
        guard phases.count < limits.serving + 2 * limits.handshakes else { return .crowded }
        guard handshakingByHost[host, default: 0] < limits.handshakesPerAddress else { return .addressBusy }
        var evicting: Int?
        if handshaking >= limits.handshakes, let victim = handshakeToEvict() {
            evicting = victim
            leave(victim)
            phases[victim] = .leaving
        }
        nextID += 1
        phases[nextID] = .handshaking(host: host)
        handshakingByHost[host, default: 0] += 1
        return .admitted(id: nextID, evicting: evicting)
    }

    /// `id` proved the token as `node`.
    mutating func authenticated(_ id: Int, node: String) -> Authentication {
        guard case .handshaking = phases[id] else { return .evicted }
        leave(id)
        guard serving < limits.serving else {
            phases[id] = .leaving
            return .full
        }
        var evicting: Int?
        if servingByNode[node, default: 0] >= limits.servingPerNode {
            guard let idle = oldestIdle(of: node) else {
                phases[id] = .leaving
                return .nodeBusy
            }
            evicting = idle
            leave(idle)
            phases[idle] = .leaving
        }
        phases[id] = .serving(node: node, busy: false)
        servingByNode[node, default: 0] += 1
        return .serving(evicting: evicting)
    }

    /// A pull begins on `id`: false if the connection is leaving (evicted while idle).
    mutating func pullBegan(_ id: Int) -> Bool {
        guard case .serving(let node, _) = phases[id] else { return false }
        phases[id] = .serving(node: node, busy: true)
        return true
    }

    /// The pull on `id` ended.
    mutating func pullEnded(_ id: Int) {
        guard case .serving(let node, _) = phases[id] else { return }
        phases[id] = .serving(node: node, busy: false)
    }

    /// `id`'s handshake failed: it will leave.
    mutating func handshakeFailed(_ id: Int) {
        guard case .handshaking = phases[id] else { return }
        leave(id)
        phases[id] = .leaving
    }

    /// `id` is gone (its thread ended).
    mutating func left(_ id: Int) {
        leave(id)
        phases[id] = nil
    }

    /// Takes `id` out of the count of its phase (its phase entry stays for the caller to set).
    private mutating func leave(_ id: Int) {
        switch phases[id] {
        case .handshaking(let host):
            let left = handshakingByHost[host, default: 1] - 1
            handshakingByHost[host] = left > 0 ? left : nil
        case .serving(let node, _):
            let left = servingByNode[node, default: 1] - 1
            servingByNode[node] = left > 0 ? left : nil
        case .leaving, nil:
            break
        }
    }

    /// The oldest handshaking connection (ids grow with arrival) of the host with the most under way.
    /// Scans: the pool is small.
    private func handshakeToEvict() -> Int? {
        guard let most = handshakingByHost.values.max() else { return nil }
        return phases.lazy.filter {
            if case .handshaking(let host) = $0.value { handshakingByHost[host] == most } else { false }
        }.map(\.key).min()
    }

    /// `node`'s oldest connection served and idle, if any.
    private func oldestIdle(of node: String) -> Int? {
        phases.lazy.filter { $0.value == .serving(node: node, busy: false) }.map(\.key).min()
    }
}
