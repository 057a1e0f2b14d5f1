/// The engine's two clocks, injected so that tests control time (a hand-moved clock). The server
/// passes the system's: PlasmaPosix's `MonotonicClock`, which conforms in the server's target.
public protocol EngineClock {
    /// Monotonic nanoseconds: deadlines and durations.
    func monotonicNanoseconds() -> UInt64
    /// Nanoseconds since the Unix epoch: creation times shown to people.
    func wallNanoseconds() -> Int64
}
