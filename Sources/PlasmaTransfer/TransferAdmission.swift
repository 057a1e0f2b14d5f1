/// Whom the transfer port lets in, and whom it lets go to make room (docs/SECURITY.md, "The transfer
/// port"). A pure value kept under the server's lock; the server acts on its answers.
///
/// Two pools, because only one of them can be told apart by who is in it:
/// - **Handshaking** connections haven't proved the token yet: anyone can open them, from any address.
///   They take at most ``Limits/handshakes`` places, and at most ``Limits/handshakesPerAddress`` from one
///   host. When the pool is full a newcomer takes the place of the oldest: a peer that holds the token
///   finishes in a few round trips, so connections that stay silent are the ones that go, and opening
///   connections faster than a token holder's handshake takes is what it would cost to keep one out
///   (before, a silent connection held its place for the whole handshake timeout).
/// - **Serving** connections are authenticated, so they are counted per node: at most
///   ``Limits/servingPerNode`` for one node name, and ``Limits/serving`` in all. One member (a bug, a
///   runaway puller) can't take every place from the others.
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
        /// Authenticated as `node`.
        case serving(node: String)
        /// Let go (evicted or refused after its handshake): its thread is on its way out.
        case leaving
    }

    /// A new connection's fate.
    enum Arrival: Equatable {
        /// In, as `id`; `evicting`: the handshaking connection it replaces, to be shut down.
        case admitted(id: Int, evicting: Int?)
        /// Refused: every serving place is taken (or too many are still leaving).
        case full
        /// Refused: its host has ``Limits/handshakesPerAddress`` handshakes under way.
        case addressBusy
    }

    /// An authenticated connection's fate.
    enum Authentication: Equatable {
        case serving
        /// Every serving place is taken.
        case full
        /// Its node has ``Limits/servingPerNode`` connections served.
        case nodeBusy
        /// It was evicted while it finished: its socket is shut down already.
        case evicted
    }

    let limits: Limits
    private(set) var phases: [Int: Phase] = [:]
    private var handshakingByHost: [String: Int] = [:]
    private var servingByNode: [String: Int] = [:]
    private(set) var handshaking = 0
    private(set) var serving = 0
    private var nextID = 0

    init(limits: Limits) { self.limits = limits }

    /// A connection from `host` was accepted.
    mutating func arrive(host: String) -> Arrival {
        // Leaving connections still hold a thread until it notices its shut-down socket: bounded too.
        guard serving < limits.serving, phases.count < limits.serving + 2 * limits.handshakes else { return .full }
        guard handshakingByHost[host, default: 0] < limits.handshakesPerAddress else { return .addressBusy }
        var evicting: Int?
        if handshaking >= limits.handshakes, let oldest = oldestHandshake() {
            evicting = oldest
            leave(oldest)
            phases[oldest] = .leaving
        }
        nextID += 1
        phases[nextID] = .handshaking(host: host)
        handshakingByHost[host, default: 0] += 1
        handshaking += 1
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
        guard servingByNode[node, default: 0] < limits.servingPerNode else {
            phases[id] = .leaving
            return .nodeBusy
        }
        phases[id] = .serving(node: node)
        servingByNode[node, default: 0] += 1
        serving += 1
        return .serving
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
            handshaking -= 1
        case .serving(let node):
            let left = servingByNode[node, default: 1] - 1
            servingByNode[node] = left > 0 ? left : nil
            serving -= 1
        case .leaving, nil:
            break
        }
    }

    /// The handshaking connection admitted first (ids grow with arrival). A scan: the pool is small.
    private func oldestHandshake() -> Int? {
        phases.lazy.filter { if case .handshaking = $0.value { true } else { false } }.map(\.key).min()
    }
}
