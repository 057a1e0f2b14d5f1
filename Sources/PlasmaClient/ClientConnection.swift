import Logging
import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// The blocking client's socket, shared by every thread: requests carry ids, so replies may come back
/// in any order (a get that waits doesn't hold up the replies behind it).
///
/// Leader/follower reading: whichever caller finds no reader active reads replies and hands each to its
/// waiter; the others sleep on the condition. A single-threaded caller reads its own reply with no
/// thread hop, which keeps a round trip at the socket's latency. Events for subscriptions
/// (``EventSubscription``) ride on the same socket: the reader queues them, bounded, for their
/// subscription.
final class ClientConnection: RequestSender, @unchecked Sendable {
    // @unchecked: the mutable state below is guarded by `state`; `reader` is used only by the one
    // caller that set `readerActive`.
    let socket: UnixSocket
    private let reader: ReplyReader
    private let state = Condition()
    private let sending = Condition()
    private var nextRequestID: UInt64 = 2  // 1 was the handshake
    private var awaited: Set<UInt64> = []
    private var replies: [UInt64: Reply] = [:]
    private var readerActive = false
    private var failure: PlasmaClientError?
    private var subscriptions: [UInt64: EventQueue] = [:]
    private let logger: Logger

    init(socket: UnixSocket, reader: ReplyReader, logger: Logger) {
        self.socket = socket
        self.reader = reader
        self.logger = logger
    }

    deinit { socket.close() }

    /// Sends a request and waits for its reply.
    func call(_ request: Request) throws(PlasmaClientError) -> Reply {
        let id = try send(request, awaitingReply: true)
        return try waitForReply(id)
    }

    /// Sends a request whose reply nobody waits for (releases from deinit); the reply is discarded.
    func post(_ request: Request) {
        _ = try? send(request, awaitingReply: false)
    }

    /// Stops the connection: every waiting and later call fails with `disconnected`.
    func shutdown(reason: String) {
        state.withLock {
            if failure == nil {
                failure = .disconnected(reason)
                logger.debug("plasma: \(reason)")
            }
            state.broadcast()
        }
        socket.shutdown()
    }

    /// The first failure; the caller holds `state`.
    private func failed(_ error: PlasmaClientError) {
        guard failure == nil else { return }
        failure = error
        logger.warning("plasma: connection to the store failed: \(error)")
    }

    private func send(_ request: Request, awaitingReply: Bool) throws(PlasmaClientError) -> UInt64 {
        let id: UInt64 = try state.withLock { () throws(PlasmaClientError) -> UInt64 in
            if let failure { throw failure }
            defer { nextRequestID += 1 }
            if awaitingReply { awaited.insert(nextRequestID) }
            return nextRequestID
        }
        do {
            try sending.withLock { () throws(PlasmaClientError) in try write(request, id: id, to: socket) }
        } catch {
            state.withLock {
                awaited.remove(id)
                failed(error)
                state.broadcast()
            }
            throw error
        }
        return id
    }

    private func waitForReply(_ id: UInt64) throws(PlasmaClientError) -> Reply {
        state.lock()
        defer { state.unlock() }
        while true {
            if let reply = replies.removeValue(forKey: id) {
                awaited.remove(id)
                return reply
            }
            if let failure {
                awaited.remove(id)
                throw failure
            }
            if readerActive {
                state.wait()
                continue
            }
            readFrame(deadline: nil)
        }
    }

    /// Becomes the reader for one frame (or until `deadline`) and files what it read; the caller holds
    /// `state`, which is let go while reading.
    private func readFrame(deadline: UInt64?) {
        readerActive = true
        state.unlock()
        let next = Result { () throws(PlasmaClientError) in try reader.next(deadline: deadline) }
        state.lock()
        readerActive = false
        switch next {
        case .success(.reply(let requestID, let reply)?):
            if awaited.contains(requestID) {
                replies[requestID] = reply
            } else if let ending = storeEndsConnection(requestID, reply) {
                failed(ending)
            }
        case .success(.event(let subscriptionID, let event)?):
            // Subscription 0 is the store speaking to every subscription (its queue overflowed).
            if subscriptionID == 0 {
                for queue in subscriptions.values { queue.push(event) }
            } else {
                subscriptions[subscriptionID]?.push(event)
            }
        case .success(nil):
            break  // the deadline passed
        case .failure(let error):
            failed(error)
        }
        state.broadcast()
    }

    // MARK: Subscriptions

    /// Subscribes in the store; returns the subscription's id, whose events queue from now on.
    func subscribe(_ filter: SubscriptionFilter) throws(PlasmaClientError) -> UInt64 {
        let subscriptionID = try state.withLock { () throws(PlasmaClientError) -> UInt64 in
            if let failure { throw failure }
            defer { nextRequestID += 1 }
            // Registered before the request goes out: events for ids already sealed follow the reply
            // at once, and one read by another thread before this one registered would be lost.
            subscriptions[nextRequestID] = EventQueue()
            return nextRequestID
        }
        do throws(PlasmaClientError) {
            let reply = try call(.subscribe(subscriptionID: subscriptionID, filter: filter))
            if case .failure(let status, let message) = reply { throw .store(status, message: message) }
        } catch {
            state.withLock { _ = subscriptions.removeValue(forKey: subscriptionID) }
            throw error
        }
        return subscriptionID
    }

    /// Ends a subscription here and in the store; its waiting `nextEvent` calls return nil.
    func unsubscribe(_ subscriptionID: UInt64) {
        let wasLive = state.withLock {
            defer { state.broadcast() }
            return subscriptions.removeValue(forKey: subscriptionID) != nil
        }
        if wasLive { post(.unsubscribe(subscriptionID: subscriptionID)) }
    }

    /// The subscription's next event: queued already, or read (by this thread or another) before
    /// `deadline`. Nil when the deadline passes first or the subscription has ended.
    func nextEvent(_ subscriptionID: UInt64, deadline: UInt64?) throws(PlasmaClientError) -> ObjectEvent? {
        state.lock()
        defer { state.unlock() }
        var readOnce = false
        while true {
            guard let queue = subscriptions[subscriptionID] else { return nil }
            if let event = queue.pop() { return event }
            if let failure { throw failure }
            let now = MonotonicClock.nanoseconds()
            let expired = deadline.map { now >= $0 } ?? false
            if readerActive {
                if expired { return nil }
                if let deadline { state.wait(nanoseconds: deadline - now) } else { state.wait() }
                continue
            }
            // Even a poll (a deadline already past) reads what the socket holds now, once.
            if expired, readOnce { return nil }
            readOnce = true
            readFrame(deadline: deadline)
        }
    }
}

/// One blocking subscription's events, read and not yet taken. Bounded like the async client's
/// (`EventStream.bufferLimit`): past the bound, events are counted instead of kept, and an `overflow`
/// event with the count takes their place.
final class EventQueue {
    private var events: [ObjectEvent] = []
    private var head = 0
    private var dropped = 0

    func push(_ event: ObjectEvent) {
        guard events.count - head < EventStream.bufferLimit else {
            dropped += 1
            return
        }
        if dropped > 0 {
            events.append(.overflow(droppedEvents: dropped))
            dropped = 0
        }
        events.append(event)
    }

    func pop() -> ObjectEvent? {
        guard head < events.count else {
            guard dropped > 0 else { return nil }
            defer { dropped = 0 }
            return .overflow(droppedEvents: dropped)
        }
        defer {
            head += 1
            if head == events.count {
                events.removeAll(keepingCapacity: events.capacity <= 1024)
                head = 0
            } else if head >= 1024, head * 2 >= events.count {
                events.removeFirst(head)
                head = 0
            }
        }
        return events[head]
    }
}

/// What the two connection kinds share: sending a request without waiting for it.
protocol RequestSender: AnyObject, Sendable {
    func post(_ request: Request)
}

/// Encodes one request frame and writes all of it.
func write(_ request: Request, id: UInt64, to socket: UnixSocket) throws(PlasmaClientError) {
    var writer = ByteWriter()
    request.encode(requestID: id, into: &writer)
    let sent = writer.buffer.withUnsafeBytes { raw in Result { () throws(SystemError) in try socket.writeAll(raw) } }
    if case .failure(let error) = sent { throw .disconnected("sending failed: \(error)") }
}

/// Request id 0 is the store speaking for itself: a failure there means it ends the connection, and why.
func storeEndsConnection(_ requestID: UInt64, _ reply: Reply) -> PlasmaClientError? {
    guard requestID == 0, case .failure(let status, let message) = reply else { return nil }
    return .store(status, message: message)
}
