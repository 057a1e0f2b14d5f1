import PlasmaCore

/// How long a call may wait in the store: for an object to be sealed (`get`), for room (`waitForSpace`)
/// or for an event (a blocking ``EventSubscription``). Both clients take this one type, with the same
/// meaning.
///
/// When the wait ends before what it waited for happened, the call answers with what there is: `nil`
/// (or `nil` in that object's place, or the objects that came, for a `sealed` stream). A timeout is an
/// answer, not an error; errors mean the store refused or the connection failed.
public enum Wait: Sendable, Hashable {
    /// Don't wait (poll): answer with what is there now.
    case no
    /// Wait until it happens, however long that takes.
    case forever
    /// Wait at most this long; rounded up to whole milliseconds. A duration too long to count in
    /// milliseconds is as good as ``forever``; zero or less still waits one millisecond.
    case timeout(Duration)

    /// Shorthand for `.timeout(.seconds(seconds))`.
    public static func seconds(_ seconds: Int) -> Wait { .timeout(.seconds(seconds)) }

    /// Shorthand for `.timeout(.milliseconds(milliseconds))`.
    public static func milliseconds(_ milliseconds: Int) -> Wait { .timeout(.milliseconds(milliseconds)) }

    /// What goes on the wire: 0 polls, -1 waits forever.
    var milliseconds: Int64 {
        switch self {
        case .no: return 0
        case .forever: return -1
        case .timeout(let duration):
            // Clamped, never trapping: a timeout of any length is "wait at most this long", and one too
            // long to count in milliseconds is as good as forever.
            let nanoseconds = duration.clampedNanoseconds
            let (rounded, overflow) = nanoseconds.addingReportingOverflow(999_999)
            let milliseconds = overflow ? UInt64.max / 1_000_000 : rounded / 1_000_000
            return Int64(clamping: max(1, milliseconds))
        }
    }

    /// The monotonic instant (`MonotonicClock` nanoseconds) the wait ends, for waits in this process;
    /// nil for ``forever``.
    func deadline(from now: UInt64) -> UInt64? {
        switch self {
        case .no: return now
        case .forever: return nil
        case .timeout(let duration):
            let (end, overflow) = now.addingReportingOverflow(duration.clampedNanoseconds)
            return overflow ? nil : end
        }
    }
}
