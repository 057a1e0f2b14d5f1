import Glibc

/// `hostile --attacker-scheduling`: the CPU scheduling class the attacking processes run at, a labelled
/// variant of the workload. `peer` (the default, and the target's definition) runs them like the store
/// and the well-behaved client; `idle` (SCHED_IDLE, like `chrt --idle 0`) and `nice` (nice 19) are what
/// an operator can do to keep untrusted users from taking the cores the store needs.
enum AttackerScheduling: String, CaseIterable {
    case peer
    case idle
    case nice

    /// Applies the class to the calling thread; threads it starts later inherit it. Called first thing
    /// in an attacker process, before it starts any thread (Linux schedules threads, not processes).
    func apply() throws {
        switch self {
        case .peer:
            return
        case .idle:
            var parameters = sched_param(sched_priority: 0)
            guard sched_setscheduler(0, Self.schedIdle, &parameters) == 0 else { throw BenchError.childFailed("sched_setscheduler(SCHED_IDLE): errno \(errno)") }
        case .nice:
            guard setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19) == 0 else { throw BenchError.childFailed("setpriority(19): errno \(errno)") }
        }
    }

    /// SCHED_IDLE from <sched.h> (Glibc doesn't import it as a Swift constant everywhere).
    private static let schedIdle: Int32 = 5
}
