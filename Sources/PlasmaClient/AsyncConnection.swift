import Foundation
import Logging
import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// The async client's socket: the process's read loop (`ReadLoop`) hands each reply to the task
/// awaiting it, so any number of awaits share one connection and no task ever blocks a thread of the
/// cooperative pool waiting for the store.
///
/// Cancelling a task withdraws its request in the store (`cancel`). The store always answers the
/// withdrawn request before the cancel, so a reply that races the cancellation is still seen here and
/// undone: references it gave are released, an object it created is aborted. Nothing leaks.
final class AsyncConnection: RequestSender, Sendable {
    private enum Pending {
        case awaiting(Continuation, Request)
        /// Called on the read loop's thread with the reply (subscribe confirmations).
        case callback(@Sendable (Reply) -> Void)
        /// One request of a batch whose replies go to its `receive`, in arrival order (`callEach`).
        case batched(ReplyBatch)
        /// The task was cancelled before or while awaiting; undo whatever reply still comes.
        case cancelled(Request?)
    }

    /// Resumed with a Result, not by throwing: a checked continuation can't carry a typed error.
    typealias Continuation = CheckedContinuation<Result<Reply, PlasmaClientError>, Never>

    private struct State {
        var nextRequestID: UInt64 = 2  // 1 was the handshake
        var pending: [UInt64: Pending] = [:]
        var failure: PlasmaClientError?
        var subscriptions: [UInt64: EventStream] = [:]
    }

    let socket: UnixSocket
    private let state = Locked(State())
    private let logger: Logger
    /// Serialises writes so that frames from concurrent tasks don't interleave.
    private let sending = Condition()

    /// Hands the socket to the process's read loop (`ReadLoop`), which owns `reader` from now on.
    init(socket: UnixSocket, reader: ReplyReader, logger: Logger) {
        self.socket = socket
        self.logger = logger
        do {
            try ReadLoop.shared.add(socket, reader: reader, for: self)
        } catch {
            fail(with: .disconnected("cannot watch the socket: \(error)"))
        }
    }

    /// The read loop closes the socket once it no longer watches it.
    deinit { ReadLoop.shared.retire(socket) }

    var pendingCount: Int { state.withLock { $0.pending.count } }

    /// Sends `request` and suspends until its reply; cancelling the task withdraws it (`cancelled`).
    func call(_ request: Request) async throws(PlasmaClientError) -> Reply {
        let id = state.withLock { state in
            defer { state.nextRequestID += 1 }
            return state.nextRequestID
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: Continuation) in
                let refusal: PlasmaClientError? = state.withLock { state in
                    if let failure = state.failure { return failure }
                    if case .cancelled = state.pending[id] {
                        state.pending[id] = nil
                        return .cancelled
                    }
                    state.pending[id] = .awaiting(continuation, request)
                    return nil
                }
                if let refusal { return continuation.resume(returning: .failure(refusal)) }
                ReadLoop.shared.callStarted()
                if case .failure(let error) = send(request, id: id) { fail(with: error) }
            }
        } onCancel: {
            withdraw(id)
        }
        return try result.get()
    }

    func post(_ request: Request) {
        let id = state.withLock { state -> UInt64? in
            guard state.failure == nil else { return nil }
            defer { state.nextRequestID += 1 }
            return state.nextRequestID
        }
        guard let id else { return }
        _ = send(request, id: id)
    }

    private func send(_ request: Request, id: UInt64) -> Result<Void, PlasmaClientError> {
        sending.lock()
        defer { sending.unlock() }
        return Result { () throws(PlasmaClientError) in try write(request, id: id, to: socket) }
    }

    /// Ends the connection: every await (now and later) fails with `disconnected(reason)`.
    func shutdown(reason: String) {
        fail(with: .disconnected(reason))
        socket.shutdown()
    }

    /// Sends every request at once; each reply is handed to `receive` on the read loop's thread as it
    /// is read, so in the order the store sent them. Returns what withdraws, in the store, the requests
    /// still unanswered (as `receive` returning false does); their late replies are undone.
    func callEach(
        _ requests: [Request], receive: @escaping @Sendable (ReplyBatch.Answer) -> Bool
    ) -> @Sendable () -> Void {
        let batch = state.withLock { state -> ReplyBatch? in
            guard state.failure == nil else { return nil }
            let first = state.nextRequestID
            state.nextRequestID += UInt64(requests.count)
            let batch = ReplyBatch(requests, requestIDs: first..<state.nextRequestID, receive: receive)
            // Registered before anything is sent: a reply may be read before the last request is sent.
            for requestID in batch.requestIDs { state.pending[requestID] = .batched(batch) }
            return batch
        }
        guard let batch else {
            _ = receive(.failure(state.withLock { $0.failure! }))
            return {}
        }
        for _ in requests { ReadLoop.shared.callStarted() }
        for (request, requestID) in zip(requests, batch.requestIDs) {
            if case .failure(let error) = send(request, id: requestID) {
                fail(with: error)
                break
            }
        }
        return { [weak self] in self?.withdraw(batch) }
    }

    private func withdraw(_ batch: ReplyBatch) {
        let withdrawn = state.withLock { state -> [UInt64] in
            batch.requestIDs.filter { requestID in
                guard case .batched = state.pending[requestID] else { return false }  // answered
                state.pending[requestID] = .cancelled(batch.requests[batch.index(of: requestID)])
                return true
            }
        }
        ReadLoop.shared.callsEnded(withdrawn.count)
        for requestID in withdrawn { post(.cancel(requestID: requestID)) }
    }

    private func withdraw(_ id: UInt64) {
        let continuation = state.withLock { state -> Continuation? in
            switch state.pending[id] {
            case .awaiting(let continuation, let request):
                state.pending[id] = .cancelled(request)
                ReadLoop.shared.callsEnded(1)
                return continuation
            case .callback, .batched:
                return nil  // not a task's request
            case .cancelled, nil:
                // Not registered yet: mark it so that registration refuses at once.
                if state.pending[id] == nil { state.pending[id] = .cancelled(nil) }
                return nil
            }
        }
        guard let continuation else { return }
        continuation.resume(returning: .failure(.cancelled))
        post(.cancel(requestID: id))
    }

    /// Called by the read loop when the socket is readable: reads what it holds and hands on every whole
    /// frame. False once the connection has failed (the loop then stops watching it).
    /// `events` counts the events handed on.
    func readAvailable(from reader: ReplyReader, events: inout Int) -> Bool {
        do {
            var drained = false
            while true {
                while let frame = try reader.nextBuffered() {
                    if case .event = frame { events += 1 }
                    if !dispatch(.success(frame)) { return false }
                }
                // A read that didn't fill the buffer took everything there was.
                if drained { return true }
                let (read, filled) = try reader.receiveAvailable()
                if !read, !filled { return true }
                drained = !filled
            }
        } catch {
            return dispatch(.failure(error))
        }
    }

    /// Hands one reply to its awaiting task; false once the connection has failed.
    private func dispatch(_ next: Result<ReplyReader.Incoming, PlasmaClientError>) -> Bool {
        switch next {
        case .failure(let error):
            fail(with: error)
            return false
        case .success(.event(let subscriptionID, let event)):
            guard subscriptionID == 0 else {
                // The common case, once per event: one lookup, nothing allocated.
                state.withLock { $0.subscriptions[subscriptionID] }?.deliver(event)
                return true
            }
            for stream in state.withLock({ Array($0.subscriptions.values) }) { stream.deliver(event) }
            return true
        case .success(.reply(let requestID, let reply)):
            if let ending = storeEndsConnection(requestID, reply) {
                fail(with: ending)
                return false
            }
            let pending = state.withLock { $0.pending.removeValue(forKey: requestID) }
            switch pending {
            case .awaiting(let continuation, _):
                ReadLoop.shared.callsEnded(1)
                continuation.resume(returning: .success(reply))
            case .callback(let handle):
                handle(reply)
            case .batched(let batch):
                ReadLoop.shared.callsEnded(1)
                if !batch.receive(.success((batch.index(of: requestID), reply))) { withdraw(batch) }
            case .cancelled(let request?):
                undo(reply, of: request)
            case .cancelled(nil), nil:
                break  // a posted request's reply
            }
            return true
        }
    }

    /// A withdrawn request was answered anyway: give back what the answer gave.
    private func undo(_ reply: Reply, of request: Request) {
        switch (request, reply) {
        case (.get(let ids, _), .objects(let locations)):
            let found = zip(ids, locations).compactMap { $1 == nil ? nil : $0 }
            if !found.isEmpty { post(.release(ids: found)) }
        case (.create(let id, _, _, _), .created):
            post(.abort(id: id))
        default:
            break
        }
    }

    /// The process's read loop stopped (ReadLoop.stop): nothing will be read from this socket again.
    func readLoopFailed(_ error: SystemError) {
        fail(with: .disconnected("the async client's read loop failed: \(error)"))
    }

    private func fail(with error: PlasmaClientError) {
        let (waiting, batches) = state.withLock { state in
            if state.failure == nil {
                state.failure = error
                if case .disconnected(let reason) = error, reason.hasPrefix("the client") {
                    logger.debug("plasma: \(reason)")
                } else {
                    logger.warning("plasma: connection to the store failed: \(error)")
                }
            }
            var waiting: [Continuation] = []
            var batches: [ObjectIdentifier: ReplyBatch] = [:]
            var batchedCalls = 0
            for pending in state.pending.values {
                switch pending {
                case .awaiting(let continuation, _): waiting.append(continuation)
                case .batched(let batch):
                    batches[ObjectIdentifier(batch)] = batch
                    batchedCalls += 1
                case .callback, .cancelled: break
                }
            }
            state.pending.removeAll()
            ReadLoop.shared.callsEnded(waiting.count + batchedCalls)
            return (waiting, Array(batches.values))
        }
        let (failure, streams) = state.withLock { state in
            defer { state.subscriptions.removeAll() }
            return (state.failure!, Array(state.subscriptions.values))
        }
        for continuation in waiting { continuation.resume(returning: .failure(failure)) }
        for batch in batches { _ = batch.receive(.failure(failure)) }
        for stream in streams { stream.finish(throwing: failure) }
    }

    // MARK: Subscriptions

    /// A stream of the events that match `filter`. Ending the iteration (or cancelling its task)
    /// unsubscribes in the store.
    func events(matching filter: SubscriptionFilter) -> AsyncThrowingStream<ObjectEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: ObjectEvent.self, bufferingPolicy: .bufferingOldest(EventStream.bufferLimit))
        let sink = EventStream(continuation)
        let ids = state.withLock { state -> (subscription: UInt64, request: UInt64)? in
            guard state.failure == nil else { return nil }
            defer { state.nextRequestID += 2 }
            let ids = (state.nextRequestID, state.nextRequestID + 1)
            // Registered before the request goes out: the store sends the events for ids already
            // sealed right behind the reply, and the read loop may take them (and drops events
            // for a subscription id it doesn't know) before this thread could register after sending.
            state.subscriptions[ids.0] = sink
            state.pending[ids.1] = .callback { reply in
                if case .failure(let status, let message) = reply {
                    sink.finish(throwing: PlasmaClientError.store(status, message: message))
                }
            }
            return ids
        }
        guard let ids else {
            continuation.finish(throwing: state.withLock { $0.failure! })
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            let wasLive = state.withLock { $0.subscriptions.removeValue(forKey: ids.subscription) != nil }
            if wasLive { post(.unsubscribe(subscriptionID: ids.subscription)) }
        }
        if case .failure(let error) = send(.subscribe(subscriptionID: ids.subscription, filter: filter), id: ids.request) {
            fail(with: error)
        }
        return stream
    }
}
