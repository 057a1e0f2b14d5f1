/// The engine's two clocks, injected so that tests control time (the server passes the system's).
public protocol EngineClock: AnyObject {
    /// Monotonic nanoseconds: deadlines and durations.
    func monotonicNanoseconds() -> UInt64
    /// Nanoseconds since the Unix epoch: creation times shown to people.
    func wallNanoseconds() -> Int64
}
