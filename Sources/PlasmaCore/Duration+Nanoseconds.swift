extension Duration {
    /// Whole nanoseconds, clamped to `0...UInt64.max`: negatives give 0, durations too long to count in
    /// nanoseconds (about 584 years) give `UInt64.max`, which every deadline treats as "never".
    ///
    /// Never traps, whatever the duration: callers pass user input (`get(timeout:)`, `--busy-poll`) here.
    public var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .max }
        let (sum, carry) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
        return carry ? .max : sum
    }
}
