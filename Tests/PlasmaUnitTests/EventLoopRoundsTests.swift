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
        let pipes = try (0..<3).map { _ in try ReadablePipe() }
        defer { pipes.forEach { $0.close() } }
        let record = Record()
        for (name, pipe) in zip(["heavy", "light1", "light2"], pipes) {
            try loop.register(pipe.read, interest: .readable) { [unowned loop] _ in
                if name == "heavy", !loop.isDispatchingLater {
                    record.calls.append("heavy postponed")
                    loop.dispatchLater()
                    loop.dispatchLater()  // asking twice still runs it once
                    return
                }
                record.calls.append(loop.isDispatchingLater ? "\(name) later" : name)
            }
        }
        // Whatever order epoll and the rotation give the three, the light ones and the postponement
        // come first, then the replies' turn, then the heavy one, once.
        let passes = try record.passes(of: loop, count: 3)
        #expect(passes.count >= 3)
        for pass in passes {
            #expect(Set(pass.prefix(3)) == ["heavy postponed", "light1", "light2"], "\(pass)")
            #expect(Array(pass.dropFirst(3)) == ["between", "heavy later"], "\(pass)")
        }
    }

    @Test func aHandlerThatPostponesEveryPassRunsOnceInEachRound() throws {
        let loop = try EventLoop(busyPollNanoseconds: 0)
        let pipe = try ReadablePipe()
        defer { pipe.close() }
        let record = Record()
        try loop.register(pipe.read, interest: .readable) { [unowned loop] _ in
            loop.dispatchLater()  // in the second round it would be a no-op; here it postpones
            record.calls.append(loop.isDispatchingLater ? "later" : "first")
        }
        let passes = try record.passes(of: loop, count: 2)
        #expect(passes.count >= 2)
        for pass in passes { #expect(pass == ["first", "between", "later"]) }
    }

    @Test func withNothingPostponedBetweenRoundsStillRunsOncePerPass() throws {
        let loop = try EventLoop(busyPollNanoseconds: 0)
        let pipe = try ReadablePipe()
        defer { pipe.close() }
        let record = Record()
        try loop.register(pipe.read, interest: .readable) { _ in record.calls.append("handler") }
        let passes = try record.passes(of: loop, count: 2)
        #expect(passes.count >= 2)
        for pass in passes { #expect(pass == ["handler", "between"]) }
    }

    /// A descriptor unregistered (closed) after its handler postponed, before the second round: its
    /// number may be reused at once (an accept), and the stale event must not reach the new handler.
    @Test func aPostponedEventOfAnUnregisteredDescriptorIsDropped() throws {
        let loop = try EventLoop(busyPollNanoseconds: 0)
        let (postponer, other) = (try ReadablePipe(), try ReadablePipe())
        defer { postponer.close(); other.close() }
        var postponerCalls: [String] = []
        try loop.register(postponer.read, interest: .readable) { [unowned loop] _ in
            if !loop.isDispatchingLater { loop.dispatchLater() }
            postponerCalls.append(loop.isDispatchingLater ? "later" : "first")
        }
        try loop.register(other.read, interest: .readable) { _ in }
        // Between its postponement and the second round, the postponer is unregistered and its number
        // registered again at once, as an accept would reuse it.
        loop.betweenRounds = { [unowned loop] in
            guard postponerCalls.last == "first" else { return }  // an interrupted wait (EINTR): next pass
            loop.unregister(postponer.read)
            try? loop.register(postponer.read, interest: .readable) { _ in postponerCalls.append("stale event") }
            loop.stop()
        }
        try loop.run()
        #expect(postponerCalls == ["first"], "postponed, then unregistered before its second round")
    }

}

/// What a loop's handlers and hooks did, in order: the handlers append their own entries.
private final class Record {
    var calls: [String] = []

    /// Runs `loop` for `count` passes, recording "between" (`betweenRounds`) and "wake" (`onWake`);
    /// returns the calls of each pass that ran a handler (a pass whose wait was interrupted, EINTR with
    /// no events, has only "between").
    func passes(of loop: EventLoop, count: Int) throws -> [[String]] {
        loop.betweenRounds = { [unowned self] in calls.append("between") }
        loop.onWake = { [unowned self] in calls.append("wake") }
        var ended = 0
        loop.beforeSleep = { [unowned loop] in  // its first call comes before any wait
            ended += 1
            if ended > count { loop.stop() }
        }
        try loop.run()
        return calls.split(separator: "wake").map(Array.init).filter { $0 != ["between"] }
    }
}

/// A pipe with a byte in it that nobody reads: its read end stays readable (level-triggered).
private struct ReadablePipe {
    let read: Int32
    let write: Int32

    init() throws {
        var fds: [Int32] = [0, 0]
        guard Glibc.pipe(&fds) == 0 else { throw PipeFailed(errno: errno) }
        (read, write) = (fds[0], fds[1])
        guard Glibc.write(write, "x", 1) == 1 else { throw PipeFailed(errno: errno) }
    }

    func close() {
        Glibc.close(read)
        Glibc.close(write)
    }

    struct PipeFailed: Error {
        let errno: Int32
    }
}
