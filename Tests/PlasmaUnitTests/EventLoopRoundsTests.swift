import Glibc
import PlasmaPosix
@testable import PlasmaStore
import Testing

/// The store serves light clients before connections that may bring a big frame: a handler that calls
/// `dispatchLater()` runs again after every other ready descriptor's handler and after `betweenRounds`
/// (where the server writes the replies made so far), once per pass.
@Suite struct EventLoopRoundsTests {
    @Test func aPostponedHandlerRunsAfterTheOthersAndAfterBetweenRounds() throws {
        let loop = try EventLoop(busyPollNanoseconds: 0)
        var pipes: [(read: Int32, write: Int32)] = []
        defer { for pipe in pipes { close(pipe.read); close(pipe.write) } }
        var calls: [String] = []
        var passes = 0
        for name in ["heavy", "light1", "light2"] {
            var fds: [Int32] = [0, 0]
            #expect(pipe(&fds) == 0)
            pipes.append((fds[0], fds[1]))
            #expect(write(fds[1], "x", 1) == 1)  // stays readable: nobody reads it (level-triggered)
            try loop.register(fds[0], interest: .readable) { [unowned loop] _ in
                if name == "heavy", !loop.isDispatchingLater {
                    calls.append("heavy postponed")
                    loop.dispatchLater()
                    loop.dispatchLater()  // asking twice still runs it once
                    return
                }
                calls.append(loop.isDispatchingLater ? "\(name) later" : name)
            }
        }
        loop.betweenRounds = { calls.append("between") }
        loop.beforeSleep = { [unowned loop] in  // the loop keeps this closure: no cycle
            calls.append("end")
            passes += 1
            if passes > 3 { loop.stop() }
        }
        try loop.run()
        // Pass by pass (the first "end" is the loop's call before its first wait): whatever order epoll
        // and the rotation give the three, the light ones and the postponement come first, then the
        // replies' turn, then the heavy one, once.
        // A pass whose wait was interrupted (EINTR: no events) has no handler call.
        let passCalls = calls.split(separator: "end").map(Array.init).filter { $0 != ["between"] }
        #expect(passCalls.count >= 3)
        for pass in passCalls {
            #expect(Set(pass.prefix(3)) == ["heavy postponed", "light1", "light2"], "\(pass)")
            #expect(Array(pass.dropFirst(3)) == ["between", "heavy later"], "\(pass)")
        }
    }

    @Test func aHandlerThatPostponesEveryPassRunsOnceInEachRound() throws {
        let loop = try EventLoop(busyPollNanoseconds: 0)
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        #expect(write(fds[1], "x", 1) == 1)
        var calls: [String] = []
        var passes = 0
        try loop.register(fds[0], interest: .readable) { [unowned loop] _ in
            loop.dispatchLater()  // in the second round it would be a no-op; here it postpones
            calls.append(loop.isDispatchingLater ? "later" : "first")
        }
        loop.betweenRounds = { calls.append("between") }
        loop.onWake = { calls.append("wake") }
        loop.beforeSleep = { [unowned loop] in
            passes += 1
            if passes > 2 { loop.stop() }
        }
        try loop.run()
        // A pass whose wait was interrupted (EINTR: no events) has only "between" and "wake".
        let passCalls = calls.split(separator: "wake").map(Array.init).filter { $0 != ["between"] }
        #expect(passCalls.count >= 2)
        for pass in passCalls { #expect(pass == ["first", "between", "later"]) }
    }

    @Test func withNothingPostponedBetweenRoundsStillRunsOncePerPass() throws {
        let loop = try EventLoop(busyPollNanoseconds: 0)
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        #expect(write(fds[1], "x", 1) == 1)
        var calls: [String] = []
        var passes = 0
        try loop.register(fds[0], interest: .readable) { _ in calls.append("handler") }
        loop.betweenRounds = { calls.append("between") }
        loop.onWake = { calls.append("wake") }
        loop.beforeSleep = { [unowned loop] in
            passes += 1
            if passes > 2 { loop.stop() }
        }
        try loop.run()
        let passCalls = calls.split(separator: "wake").map(Array.init).filter { $0 != ["between"] }
        #expect(passCalls.count >= 2)
        for pass in passCalls { #expect(pass == ["handler", "between"]) }
    }

    /// A descriptor unregistered (closed) after its handler postponed, before the second round: its
    /// number may be reused at once (an accept), and the stale event must not reach the new handler.
    @Test func aPostponedEventOfAnUnregisteredDescriptorIsDropped() throws {
        let loop = try EventLoop(busyPollNanoseconds: 0)
        var pipes: [(read: Int32, write: Int32)] = []
        defer { for pipe in pipes { close(pipe.read); close(pipe.write) } }
        for _ in 0..<2 {
            var fds: [Int32] = [0, 0]
            #expect(pipe(&fds) == 0)
            pipes.append((fds[0], fds[1]))
            #expect(write(fds[1], "x", 1) == 1)
        }
        let (postponer, closer) = (pipes[0].read, pipes[1].read)
        var postponerCalls: [String] = []
        try loop.register(postponer, interest: .readable) { [unowned loop] _ in
            if !loop.isDispatchingLater { loop.dispatchLater() }
            postponerCalls.append(loop.isDispatchingLater ? "later" : "first")
        }
        // The other handler runs in the first round and unregisters the postponer whenever it has
        // been postponed in this pass (between its postponement and the second round).
        try loop.register(closer, interest: .readable) { _ in }
        loop.betweenRounds = { [unowned loop] in
            if postponerCalls.last == "first" { loop.unregister(postponer) }
            loop.stop()
        }
        try loop.run()
        #expect(postponerCalls == ["first"], "postponed, then unregistered before its second round")
    }
}
