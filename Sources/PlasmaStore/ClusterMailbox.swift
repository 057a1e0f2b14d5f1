import Glibc
import PlasmaClusterCore
import PlasmaCore
import PlasmaPosix
import Synchronization

/// What other threads tell the loop about the cluster: the directory's events, pulls that want their
/// block or ended, and transfer threads' pins and unpins.
enum ClusterMessage {
    case events([ClusterEvent])
    /// A pull's holder confirmed these sizes: reserve the copy's block (or decline, nil).
    case reservePull(ObjectID, ClusterLocation, dataSize: Int, metadataSize: Int, LoopAnswer<UnsafeMutableRawBufferPointer?>)
    case pullEnded(ObjectID, ClusterLocation, Result<PulledCopy, PullFailure>)
    case pin(ObjectID, LoopAnswer<PinnedObject?>)
    case unpin(ObjectID)
}

/// A locked queue into the loop, with an eventfd in its epoll set that says something is queued (as
/// the spill sink's completions do, ExternalStore.swift). `@unchecked Sendable`: the queue is only
/// touched under its mutex, the eventfd is a descriptor.
final class ClusterMailbox: @unchecked Sendable {
    let signal: EventFD
    /// Closed when the loop stops: nothing is queued from then on, and pins are answered nil at once.
    private let queue = Mutex<(closed: Bool, messages: [ClusterMessage])>((false, []))

    init() throws(SystemError) { signal = try EventFD() }

    /// Queues `message` and wakes the loop; false (nothing queued) once closed.
    @discardableResult
    func post(_ message: ClusterMessage) -> Bool {
        // Signalled under the lock: `close` closes the eventfd under it, so a post never writes to a
        // closed (or reused) descriptor.
        queue.withLock { state in
            guard !state.closed else { return false }
            state.messages.append(message)
            signal.signal()
            return true
        }
    }

    /// What was posted since the last call, in order.
    func take() -> [ClusterMessage] {
        signal.drain()
        return queue.withLock { state in
            defer { state.messages.removeAll(keepingCapacity: true) }
            return state.messages
        }
    }

    /// No more messages: what is queued is dropped (pins and reserves answered nil); the eventfd is closed.
    func close() {
        let left = queue.withLock { state in
            state.closed = true
            signal.close()
            defer { state.messages = [] }
            return state.messages
        }
        for message in left {
            switch message {
            case .pin(_, let answer): answer.give(nil)
            case .reservePull(_, _, _, _, let answer): answer.give(nil)
            default: break
            }
        }
    }
}

/// The loop's answer to a transfer thread's pin or reserve, which that thread waits for.
/// `@unchecked Sendable`: the answer is written once under the mutex before the condition is signalled.
final class LoopAnswer<Value>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var given = false
    private var value: Value?

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Answers (once; later answers are ignored).
    func give(_ answer: Value) {
        pthread_mutex_lock(mutex)
        if !given { (given, value) = (true, answer) }
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Blocks until answered.
    func wait() -> Value {
        pthread_mutex_lock(mutex)
        while !given { pthread_cond_wait(condition, mutex) }
        let answer = value!
        pthread_mutex_unlock(mutex)
        return answer
    }
}
