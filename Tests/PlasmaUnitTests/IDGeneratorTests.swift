import Dispatch
import PlasmaCore
import Testing

/// `ObjectID.random()` draws from one generator shared by every thread. CI runs this suite under
/// ThreadSanitizer too: with a lock TSan can't see (it was `Synchronization.Mutex`), two threads
/// drawing at once were reported as a data race.
@Suite struct IDGeneratorTests {
    /// Where the threads put their ids. `@unchecked Sendable`: each thread writes its own slice.
    struct Slots: @unchecked Sendable {
        let base: UnsafeMutablePointer<ObjectID>
    }

    @Test func idsDrawnOnFourThreadsAtOnceAreAllDistinct() {
        let threads = 4, perThread = 10_000
        let slots = Slots(base: .allocate(capacity: threads * perThread))
        defer { slots.base.deallocate() }
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for index in 0..<perThread { (slots.base + thread * perThread + index).initialize(to: ObjectID.random()) }
        }
        #expect(Set(UnsafeBufferPointer(start: slots.base, count: threads * perThread)).count == threads * perThread)
    }
}
