import Glibc
import PlasmaCore
import PlasmaPosix

/// How long the event loop's passes take. One thread serves every client, so a request that arrives
/// during a pass waits for its end: pass durations are the store's share of a client's latency (issue 13:
/// a well-behaved client's get p99 under hostile load). Counted in `stats` (`loop_passes_over_1ms`,
/// `_5ms`, `_20ms`, `loop_pass_longest_us`); a pass over `logThresholdNanoseconds` is logged at debug level
/// with the work it did, to find what held the loop.
///
/// Wall-clock time: on a loaded machine a pass also lasts longer when the store's thread waits for a
/// core. A long pass whose log line names little work was such a wait, not work to split.
struct PassMeter {
    static let logThresholdNanoseconds: UInt64 = 5_000_000
    var over1ms = 0
    var over5ms = 0
    var over20ms = 0
    var longestNanoseconds: UInt64 = 0
    /// The most work units one pass did (StoreServer+Pacing.swift): what the pass budget bounds, in
    /// figures that don't depend on the machine's load.
    var mostUnits = 0
    /// What the current pass has done so far.
    var work = PassWork()
    /// The loop thread's CPU time when it was last read: at the end of the last pass that did work or
    /// took over 1 ms (not after every idle poll: it is a system call).
    private var threadCPUNanoseconds: UInt64 = 0
    /// `ArrowNotifier.chunksEncoded` at the end of the last pass.
    var chunksBefore = 0
    /// Whether long passes are logged (the logger takes debug lines): only then are the phases timed
    /// and the thread's CPU time read. Otherwise a pass would pay ~14 clock reads and a system call
    /// (`CLOCK_THREAD_CPUTIME_ID` is not in the vDSO) for a line nobody logs: on a serial client's
    /// small requests, one pass per request.
    var logsLongPasses = false

    /// The calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`).
    static func threadCPU() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// A pass ended: counts it; returns its duration and work when it is long enough to be logged.
    /// `cpu`: the loop thread's CPU time in it, at most (it may include idle polls before it): a long
    /// pass with little CPU waited for a core.
    mutating func ended(startedAt: UInt64, now: UInt64) -> (nanoseconds: UInt64, cpu: UInt64, work: PassWork)? {
        let duration = now &- startedAt
        let done = work
        mostUnits = max(mostUnits, done.units + done.deferredUnits + done.readUnits)
        guard done.didWork || duration > 1_000_000 else { return nil }
        work = PassWork()
        let cpuBefore = threadCPUNanoseconds
        if logsLongPasses { threadCPUNanoseconds = Self.threadCPU() }
        guard duration > 1_000_000 else { return nil }
        over1ms += 1
        if duration > 5_000_000 { over5ms += 1 }
        if duration > 20_000_000 { over20ms += 1 }
        longestNanoseconds = max(longestNanoseconds, duration)
        return logsLongPasses && duration >= Self.logThresholdNanoseconds ? (duration, threadCPUNanoseconds &- cpuBefore, done) : nil
    }

    func fill(_ statistics: inout StoreStatistics) {
        statistics.loopPassesOver1ms = Int64(over1ms)
        statistics.loopPassesOver5ms = Int64(over5ms)
        statistics.loopPassesOver20ms = Int64(over20ms)
        statistics.loopPassLongestMicroseconds = Int64(longestNanoseconds / 1_000)
        statistics.loopPassMostWorkUnits = Int64(mostUnits)
    }
}

/// The work of one loop pass, counted cheaply as it is done and described only for a long pass.
struct PassWork {
    /// Requests run, and the units of work they counted (StoreServer+Pacing.swift).
    var requests = 0
    var units = 0
    /// Units of the deferred work's slices (StoreServer+DeferredWork.swift).
    var deferredUnits = 0
    /// Units of partial frames' bytes read into inbound buffers (StoreServer.readBytesWork).
    var readUnits = 0
    /// The heaviest request of the pass.
    var heaviestUnits = 0
    var heaviestKind: StaticString = "none"
    /// Connections accepted and closed.
    var accepted = 0
    var closed = 0
    /// Paused connections resumed, and whether the engine's sliced work (big gets) advanced.
    var resumed = 0
    var slicedWork = false
    /// Objects gone through by lists built a slice at a time (ListBuilder.swift).
    var listed = 0
    /// Objects gone through for Arrow subscribe snapshots, and notification chunks encoded.
    var snapshotEntries = 0
    var notificationChunks = 0
    /// Wall-clock nanoseconds of the pass's phases, to tell which one overran its budget: the ready
    /// descriptors, the deadlines fired, the four kinds of deferred work, and the flush of replies.
    var phaseNanoseconds = PassPhases()

    /// Anything counted: the pass's CPU time is then read.
    var didWork: Bool {
        requests + accepted + closed + resumed + listed + snapshotEntries + notificationChunks + readUnits > 0 || slicedWork
    }

    mutating func request(_ units: Int, kind: StaticString) {
        requests += 1
        self.units += units
        if units > heaviestUnits { (heaviestUnits, heaviestKind) = (units, kind) }
    }

    var description: String {
        "\(requests) requests (\(units) units of work, the heaviest a \(heaviestKind) of \(heaviestUnits)), "
            + "\(deferredUnits) units of sliced work, \(readUnits) units of partial frames read, "
            + "\(accepted) accepted, \(closed) closed, \(resumed) paused connections resumed, "
            + "sliced work \(slicedWork ? "advanced" : "none"), \(listed) objects listed, "
            + "\(snapshotEntries) subscribe-snapshot objects, \(notificationChunks) notification chunks encoded; "
            + phaseNanoseconds.description
    }
}

/// Where a pass's time went (`PassWork.phaseNanoseconds`), wall clock.
struct PassPhases {
    /// The ready descriptors' handlers: what the others leave of the pass (`settle(total:)`).
    var descriptors: UInt64 = 0
    var deadlines: UInt64 = 0
    var slicedGets: UInt64 = 0
    var lists: UInt64 = 0
    var snapshots: UInt64 = 0
    var paused: UInt64 = 0
    var flush: UInt64 = 0

    /// Attributes to the descriptors whatever of `total` the timed phases don't account for.
    mutating func settle(total: UInt64) {
        let timed = deadlines &+ slicedGets &+ lists &+ snapshots &+ paused &+ flush
        descriptors = total > timed ? total - timed : 0
    }

    var description: String {
        "µs in descriptors \(descriptors / 1_000), deadlines \(deadlines / 1_000), sliced gets \(slicedGets / 1_000), "
            + "lists \(lists / 1_000), snapshots \(snapshots / 1_000), paused connections \(paused / 1_000), "
            + "flush \(flush / 1_000)"
    }
}

extension StoreServer {
    /// Runs `body` as `phase` of the current pass, adding its wall-clock time to the pass's account.
    func timed<T>(_ phase: WritableKeyPath<PassPhases, UInt64>, _ body: () throws -> T) rethrows -> T {
        guard passMeter.logsLongPasses else { return try body() }
        let start = MonotonicClock.nanoseconds()
        defer { passMeter.work.phaseNanoseconds[keyPath: phase] &+= MonotonicClock.nanoseconds() &- start }
        return try body()
    }

    /// The loop's `passEnded`: counts the pass, logs a long one with what it did.
    func passEnded(startedAt: UInt64) {
        passMeter.work.notificationChunks = ArrowNotifier.chunksEncoded - passMeter.chunksBefore
        passMeter.chunksBefore = ArrowNotifier.chunksEncoded
        guard var long = passMeter.ended(startedAt: startedAt, now: MonotonicClock.nanoseconds()) else { return }
        long.work.phaseNanoseconds.settle(total: long.nanoseconds)
        logger.debug("loop pass took \(long.nanoseconds / 1_000) µs (CPU at most \(long.cpu / 1_000) µs): \(long.work.description)")
    }
}
