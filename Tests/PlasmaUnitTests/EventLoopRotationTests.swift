import Glibc
import PlasmaPosix
@testable import PlasmaStore
import Testing

/// A handler that stops early when a pass's budget is spent (as the store's big-frame reads do) must
/// not leave the descriptors epoll lists last unserved for ever: each pass starts dispatching one place
/// further into the batch.
@Suite struct EventLoopRotationTests {
    @Test func everyReadyDescriptorIsServedFirstInSomePass() throws {
        let loop = try EventLoop(busyPollNanoseconds: 0)
        var pipes: [(read: Int32, write: Int32)] = []
        defer { for pipe in pipes { close(pipe.read); close(pipe.write) } }
        var servedFirst: Set<Int32> = []
        var servedThisPass = 0
        var passes = 0
        for _ in 0..<4 {
            var fds: [Int32] = [0, 0]
            #expect(pipe(&fds) == 0)
            pipes.append((fds[0], fds[1]))
            #expect(write(fds[1], "x", 1) == 1)  // stays readable: nobody reads it (level-triggered)
            try loop.register(fds[0], interest: .readable) { event in
                // One "read" per pass, like a handler whose pass budget is spent after the first.
                if servedThisPass == 0 { servedFirst.insert(event.fd) }
                servedThisPass += 1
            }
        }
        loop.beforeSleep = { [unowned loop] in  // the loop keeps this closure: no cycle
            servedThisPass = 0
            passes += 1
            if passes > 8 { loop.stop() }
        }
        try loop.run()
        #expect(servedFirst == Set(pipes.map(\.read)), "each of the 4 ready descriptors came first in some pass")
    }
}
