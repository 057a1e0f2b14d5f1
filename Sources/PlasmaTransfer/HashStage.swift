import PlasmaPosix

/// Hashes a pull's bytes on a thread of its own while the pulling thread receives the next ones
/// (docs/TRANSFER.md, "Hashing beside the receive"): the pulling thread only says how far the bytes
/// have arrived; this thread hashes up to there, a piece at a time, while more lands. One
/// per thread of the puller's pool, reused from pull to pull.
///
/// `@unchecked Sendable`: its mutable state sits in a ``Guarded`` value; the thread is set in init.
final class HashStage: @unchecked Sendable {
    /// At most this much is hashed between two looks at the state, so that ``abandon()`` waits little.
    static let piece = 1 << 20

    private struct State {
        /// The block being hashed, or nil between pulls.
        var bytes: UnsafeRawBufferPointer?
        /// Bytes of it that have arrived, and bytes hashed (always ≤ arrived).
        var arrived = 0
        var hashed = 0
        var hashes = XXH64.Pair(seeds: (0, 0))
        /// The thread is hashing a piece outside the lock.
        var busy = false
        var stopping = false
    }

    private let state = Guarded(State())
    private var thread: PosixThread?

    init() throws(SystemError) {
        thread = try PosixThread { [self] in run() }
    }

    /// Starts hashing `bytes` with these seeds, as they arrive.
    func begin(_ bytes: UnsafeRawBufferPointer, seeds: (first: UInt64, second: UInt64)) {
        state.withLock { state in
            (state.bytes, state.arrived, state.hashed) = (bytes, 0, 0)
            state.hashes = XXH64.Pair(seeds: seeds)
        }
    }

    /// The first `count` bytes have arrived.
    func arrived(upTo count: Int) {
        state.withLock { $0.arrived = count }
    }

    /// Waits until every byte is hashed; the two hashes. The block is no longer read.
    func finish() -> (first: UInt64, second: UInt64) {
        state.wait(until: { !$0.busy && $0.hashed == $0.bytes?.count ?? 0 }) { state in
            state.bytes = nil
            return state.hashes.digests
        }
    }

    /// The pull failed: waits until the block is no longer read (the store is about to free it).
    func abandon() {
        state.wait(until: { !$0.busy }) { state in (state.bytes, state.arrived, state.hashed) = (nil, 0, 0) }
    }

    /// Ends the thread and waits for it. From the thread that owns the stage.
    func stop() {
        state.withLock { $0.stopping = true }
        thread?.join()
        thread = nil
    }

    private func run() {
        while true {
            let work = state.wait(until: { $0.stopping || ($0.bytes != nil && $0.hashed < $0.arrived) }) { state -> (UnsafeRawBufferPointer, XXH64.Pair)? in
                guard !state.stopping, let bytes = state.bytes else { return nil }
                state.busy = true
                let end = min(state.arrived, state.hashed + Self.piece)
                return (UnsafeRawBufferPointer(rebasing: bytes[state.hashed..<end]), state.hashes)
            }
            guard let (slice, hashesSoFar) = work else { return }
            var hashes = hashesSoFar
            hashes.update(slice)
            state.withLock { state in
                state.hashes = hashes
                state.hashed += slice.count
                state.busy = false
            }
        }
    }
}
