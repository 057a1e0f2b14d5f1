import Glibc
import Logging
import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// Opening a connection: connect (with retries), say hello, receive and map the arena.
struct Handshake {
    let socket: UnixSocket
    let reader: ReplyReader
    let capacity: Int
    let arena: ArenaMapping

    /// - Parameter spin: the reader's poll window; `.zero` waits in poll at once (the socket is always
    ///   nonblocking).
    /// - Parameter trust: whose store to accept; nil: `StoreTrust.fromEnvironment()`.
    /// A failure is logged at debug level on `logger` before it is thrown.
    static func perform(
        socketPath: String, name: String, retries: Int, retryInterval: Duration, prefault: Bool, spin: Duration,
        trust: StoreTrust?, logger: Logger
    ) throws(PlasmaClientError) -> Handshake {
        do {
            return try perform(
                socketPath: socketPath, name: name, retries: retries, retryInterval: retryInterval, prefault: prefault,
                spin: spin, trust: trust)
        } catch {
            logger.debug("plasma: cannot connect: \(error)")
            throw error
        }
    }

    private static func perform(
        socketPath: String, name: String, retries: Int, retryInterval: Duration, prefault: Bool, spin: Duration,
        trust: StoreTrust?
    ) throws(PlasmaClientError) -> Handshake {
        let trust = if let trust { trust } else { try StoreTrust.fromEnvironment() }
        let socket = try open(socketPath, retries: retries, retryInterval: retryInterval)
        do {
            try checkOwner(of: socket, at: socketPath, trust: trust)
            return try greet(socket, name: name, prefault: prefault, spin: spin)
        } catch {
            socket.close()
            throw error
        }
    }

    /// Before a byte is sent: who listens there? (The kernel recorded the listener's credentials when
    /// it called listen; the peer can't forge them.)
    static func checkOwner(of socket: UnixSocket, at path: String, trust: StoreTrust) throws(PlasmaClientError) {
        guard !trust.anyUser else { return }
        let store: PeerCredentials
        do {
            store = try socket.peerCredentials()
        } catch {
            throw .cannotConnect(path: path, reason: "cannot learn who runs the store: \(error)")
        }
        let client = geteuid()
        guard trust.admits(storeUID: store.uid, clientUID: client) else {
            throw .untrustedStore(path: path, storeUID: store.uid, storePID: store.pid, clientUID: client)
        }
    }

    private static func greet(_ socket: UnixSocket, name: String, prefault: Bool, spin: Duration) throws(PlasmaClientError) -> Handshake {
        let reader = ReplyReader(socket: socket, spin: spin)
        do {
            // Nonblocking even without a spin window: a client that sleeps waits in poll(POLLIN), never
            // in a blocking recvmsg. Sleeping in recvmsg, it is woken when the store reads its request
            // (the kernel tells a Unix socket's writer that room was made, on the queue its reads sleep
            // on), before any reply exists; poll's wait ignores that wake-up. Seen in a trace on one
            // CPU, where the woken client preempted the store before it answered (Benchmarks/README.md,
            // "Wake latency: the round trip after idle").
            try socket.setNonBlocking(true)
            try write(.connect(clientName: name), id: 1, to: socket)
        } catch {
            // A store that refuses us (too many clients) says why and closes, maybe before our hello
            // arrived: its reason is still there to read.
            if case .reply(_, .failure(let status, let message))? = try? reader.next() {
                throw .store(status, message: message)
            }
            throw .disconnected("cannot greet the store: \(error)")
        }
        let (_, reply) = try reader.nextReply()
        guard case .connected(let capacity, let arenaSize, _) = reply else {
            if case .failure(let status, let message) = reply { throw .store(status, message: message) }
            throw .protocolViolation("expected a connect reply, got \(reply)")
        }
        let descriptors = reader.descriptors
        reader.descriptors.removeAll()
        defer { for fd in descriptors { Glibc.close(fd) } }
        guard let arenaDescriptor = descriptors.last else {
            throw .protocolViolation("the store sent no arena descriptor with its connect reply")
        }
        let arena = try ArenaMapping(descriptor: arenaDescriptor, size: arenaSize, prefault: prefault)
        return Handshake(socket: socket, reader: reader, capacity: capacity, arena: arena)
    }

    private static func open(_ path: String, retries: Int, retryInterval: Duration) throws(PlasmaClientError) -> UnixSocket {
        var attempt = 0
        while true {
            do {
                return try UnixSocket.connect(path: path)
            } catch {
                guard attempt < retries else { throw .cannotConnect(path: path, reason: "\(error)") }
                attempt += 1
                let nanoseconds = retryInterval.clampedNanoseconds
                var delay = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
                nanosleep(&delay, nil)
            }
        }
    }
}
