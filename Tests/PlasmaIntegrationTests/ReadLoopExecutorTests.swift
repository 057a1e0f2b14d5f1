import Dispatch
import Foundation
import PlasmaClient
import PlasmaCore
import Synchronization
import Testing

extension IntegrationTests.AsyncClientTests {
    // Tasks that prefer AsyncPlasmaClient.readLoopExecutor: resumed on the read loop's own thread.

    @Test func anAwaitPreferringTheReadLoopResumesOnTheLoopsThread() async throws {
        let store = try StoreProcess()
        let client = try AsyncPlasmaClient(socketPath: store.socketPath)
        let observer = try store.connect()
        let id = ObjectID.random()
        let getting = Task(executorPreference: AsyncPlasmaClient.readLoopExecutor) {
            // Started from another thread: the loop is woken to run it.
            let started = currentThreadName()
            let buffer = try await client.get(id)
            return (started, currentThreadName(), buffer?.copyBytes())
        }
        #expect(try await eventually { try observer.statistics().pendingGets == 1 })
        let writer = try PeerProcess(["put", store.socketPath, id.hex, "5000", "4"])
        let (started, resumed, bytes) = try await getting.value
        #expect(started == readLoopThreadName)
        #expect(resumed == readLoopThreadName)
        #expect(bytes.map(checksum) == checksum(pattern(size: 5000, seed: 4)))
        #expect(writer.nextLine() == "sealed")
    }

    @Test func aThousandAwaitsPreferringTheReadLoopEachResumeOnceOnIt() async throws {
        let store = try StoreProcess()
        let client = try AsyncPlasmaClient(socketPath: store.socketPath)
        let observer = try store.connect()
        let ids = (0..<1000).map { _ in ObjectID.random() }
        let list = URL(fileURLWithPath: store.socketPath + ".ids")
        try ids.map(\.hex).joined(separator: "\n").write(to: list, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: list) }
        let offTheLoop = IntegrationTests.Counter()

        let received = try await withThrowingTaskGroup(of: ObjectID.self) { group in
            for id in ids {
                group.addTask(executorPreference: AsyncPlasmaClient.readLoopExecutor) {
                    let buffer = try #require(try await client.get(id, timeout: .seconds(120)))
                    if currentThreadName() != readLoopThreadName { offTheLoop.value.add(1, ordering: .relaxed) }
                    return buffer.id
                }
            }
            // Here, off the loop: this blocks its thread while it polls the store.
            #expect(try await eventually(timeout: 60) { try observer.statistics().pendingGets == 1000 })
            let writer = try PeerProcess(["put-list", store.socketPath, list.path])
            var received: [ObjectID] = []
            for try await id in group { received.append(id) }
            #expect(writer.nextLine(timeout: 60) == "sealed 1000")
            return received
        }
        #expect(received.count == 1000)
        #expect(Set(received) == Set(ids))
        #expect(offTheLoop.value.load(ordering: .relaxed) == 0)
        #expect(try observer.statistics().pendingGets == 0)
    }

    @Test func cancellingATaskPreferringTheReadLoopWithdrawsItsWait() async throws {
        let store = try StoreProcess()
        let client = try AsyncPlasmaClient(socketPath: store.socketPath)
        let observer = try store.connect()
        let waiting = Task(executorPreference: AsyncPlasmaClient.readLoopExecutor) {
            try await client.get(.random())
        }
        #expect(try await eventually { try observer.statistics().pendingGets == 1 })
        waiting.cancel()
        await #expect(throws: PlasmaClientError.cancelled) { try await waiting.value }
        #expect(try await eventually { try observer.statistics().pendingGets == 0 })
    }

    /// A task that keeps re-enqueueing itself on the loop's thread shares it: replies are still read.
    @Test func aTaskYieldingOnTheReadLoopDoesntStopItReadingReplies() async throws {
        let store = try StoreProcess()
        let client = try AsyncPlasmaClient(socketPath: store.socketPath)
        let observer = try store.connect()
        let id = ObjectID.random()
        let arrived = IntegrationTests.Counter()
        let spinner = Task(executorPreference: AsyncPlasmaClient.readLoopExecutor) {
            var yields = 0
            while arrived.value.load(ordering: .sequentiallyConsistent) == 0 {
                await Task.yield()
                yields += 1
            }
            return yields
        }
        let getter = Task(executorPreference: AsyncPlasmaClient.readLoopExecutor) {
            _ = try await client.get(id)
            arrived.value.add(1, ordering: .sequentiallyConsistent)
        }
        #expect(try await eventually { try observer.statistics().pendingGets == 1 })
        try observer.createAndSeal(id, data: [1])
        try await getter.value
        #expect(await spinner.value > 0)
    }

    /// What the documentation tells a task to do before it blocks: leave the loop's thread. Then a
    /// task that blocks until another task's await returns doesn't stop the loop reading that reply.
    @Test func blockingOffTheLoopLetsOtherAwaitsOnTheLoopResume() async throws {
        let store = try StoreProcess()
        let client = try AsyncPlasmaClient(socketPath: store.socketPath)
        let observer = try store.connect()
        let (first, second) = (ObjectID.random(), ObjectID.random())
        let secondArrived = DispatchSemaphore(value: 0)
        let blocking = Atomic<Bool>(false)

        let blocker = Task(executorPreference: AsyncPlasmaClient.readLoopExecutor) {
            _ = try await client.get(first)
            return await withTaskExecutorPreference(globalConcurrentExecutor) {
                let thread = currentThreadName()
                blocking.store(true, ordering: .sequentiallyConsistent)
                // A bound for a failing run only; the other task's await ends the wait.
                return (thread, secondArrived.wait(timeout: .now() + 60) == .success)
            }
        }
        let other = Task(executorPreference: AsyncPlasmaClient.readLoopExecutor) {
            _ = try await client.get(second)
            secondArrived.signal()
        }
        #expect(try await eventually { try observer.statistics().pendingGets == 2 })
        try observer.createAndSeal(first, data: [1])
        #expect(try await eventually { blocking.load(ordering: .sequentiallyConsistent) })
        try observer.createAndSeal(second, data: [2])
        try await other.value
        let (thread, woken) = try await blocker.value
        #expect(thread != readLoopThreadName)
        #expect(woken)
    }
}

/// The name the read loop gives its thread (ReadLoop.run).
private let readLoopThreadName = "plasma-readloop"

/// The kernel's name of the calling thread.
private func currentThreadName() -> String {
    let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
    return name.trimmingCharacters(in: .newlines)
}
