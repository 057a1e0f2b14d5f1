import Glibc

/// Fast unique ids: xoshiro256** seeded from the system's random source, reseeded after a fork.
///
/// `SystemRandomNumberGenerator` costs one getrandom syscall per 8 bytes (three per id; measured
/// ~60% of a 64 B create-and-seal's client time). Ids need to be unique, not secret, so one seeded
/// generator serves every thread behind a lock, and a forked child (same state) reseeds itself.
///
/// The lock is a pthread mutex rather than `Synchronization.Mutex`: ThreadSanitizer sees a pthread
/// mutex's ordering, not `Mutex`'s (its atomics are in the uninstrumented standard library), and
/// reported ids drawn on two threads at once as a data race. `@unchecked Sendable`: `state` is only
/// touched with `lock` held.
final class IDGenerator: @unchecked Sendable {
    static let shared = IDGenerator()

    private struct State {
        var pid: pid_t = -1
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    }

    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var state = State()

    init() {
        pthread_mutex_init(lock, nil)
    }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    func next() -> (UInt64, UInt64, UInt64) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if state.pid != getpid() { Self.seed(&state) }
        return (Self.step(&state.words), Self.step(&state.words), Self.step(&state.words))
    }

    private static func seed(_ state: inout State) {
        var system = SystemRandomNumberGenerator()
        state.pid = getpid()
        state.words = (system.next(), system.next(), system.next(), system.next() | 1)
    }

    /// xoshiro256** (Blackman and Vigna).
    private static func step(_ s: inout (UInt64, UInt64, UInt64, UInt64)) -> UInt64 {
        let result = (s.1 &* 5).rotatedLeft(by: 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3.rotatedLeft(by: 45)
        return result
    }
}

extension UInt64 {
    fileprivate func rotatedLeft(by count: UInt64) -> UInt64 { (self << count) | (self >> (64 - count)) }
}
