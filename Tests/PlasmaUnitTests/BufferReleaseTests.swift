@testable import PlasmaStore
import Glibc
import Synchronization
import Testing

/// BufferRelease.swift: big buffers are freed on its thread, not the caller's (the store's loop).
@Suite struct BufferReleaseTests {
    /// The threads witnesses died on.
    final class Deaths: Sendable {
        let threads = Mutex<[pthread_t]>([])
    }

    /// Records the thread it died on.
    final class Witness: Sendable {
        let deaths: Deaths
        init(_ deaths: Deaths) { self.deaths = deaths }
        deinit { deaths.threads.withLock { $0.append(pthread_self()) } }
    }

    @Test func aBigBufferIsFreedOffTheCallersThreadAndLeftEmpty() {
        let release = BufferRelease(threshold: 64 * MemoryLayout<Witness>.stride)
        let deaths = Deaths()
        var buffer = (0..<100).map { _ in Witness(deaths) }
        #expect(release.release(&buffer))
        #expect(buffer.isEmpty && buffer.capacity == 0, "the caller keeps nothing of it")
        release.drain()
        let threads = deaths.threads.withLock { $0 }
        #expect(threads.count == 100)
        #expect(threads.allSatisfy { pthread_equal($0, pthread_self()) == 0 }, "freed on the release thread")
    }

    @Test func aSmallBufferStaysWithTheCaller() {
        let release = BufferRelease(threshold: 64 * MemoryLayout<Witness>.stride)
        let deaths = Deaths()
        var buffer = (0..<10).map { _ in Witness(deaths) }
        #expect(!release.release(&buffer))
        #expect(buffer.count == 10)
        buffer = []
        release.drain()
        let threads = deaths.threads.withLock { $0 }
        #expect(threads.count == 10 && threads.allSatisfy { pthread_equal($0, pthread_self()) != 0 })
    }

    @Test func theStoresThresholdIsAMebibyteOfBytes() {
        var bytes = [UInt8](repeating: 1, count: 4 << 20)
        #expect(BufferRelease.shared.release(&bytes))
        #expect(bytes.isEmpty)
        var small = [UInt8](repeating: 1, count: 64 << 10)
        #expect(!BufferRelease.shared.release(&small))
        #expect(small.count == 64 << 10)
    }
}
