import Glibc

/// The process's descriptor limit (`RLIMIT_NOFILE`): the soft limit is what `open`, `accept` and
/// friends fail at with EMFILE; an unprivileged process may raise it up to the hard limit.
public struct DescriptorLimit: Sendable, Equatable {
    public var soft: Int
    public var hard: Int

    public init(soft: Int, hard: Int) {
        self.soft = soft
        self.hard = hard
    }

    /// The corresponding C function is `getrlimit(RLIMIT_NOFILE)`.
    public static func current() throws(SystemError) -> DescriptorLimit {
        var limit = rlimit()
        _ = try system_getrlimit_nofile(&limit).get("getrlimit(RLIMIT_NOFILE)")
        return DescriptorLimit(soft: clamped(limit.rlim_cur), hard: clamped(limit.rlim_max))
    }

    /// Raises the soft limit to the hard one (as Redis does at start) and returns the limit now in
    /// force. An unlimited hard limit is taken as the kernel's default `fs.nr_open` (1,048,576), which
    /// is the most `RLIMIT_NOFILE` can be set to without raising that sysctl.
    ///
    /// The corresponding C functions are `getrlimit` and `setrlimit(RLIMIT_NOFILE)`.
    @discardableResult
    public static func raiseSoftToHard() throws(SystemError) -> DescriptorLimit {
        var limit = rlimit()
        _ = try system_getrlimit_nofile(&limit).get("getrlimit(RLIMIT_NOFILE)")
        let target = limit.rlim_max == rlim_t.max ? 1 << 20 : limit.rlim_max  // rlim_t.max: RLIM_INFINITY
        if limit.rlim_cur < target {
            var raised = rlimit(rlim_cur: target, rlim_max: limit.rlim_max)
            _ = try system_setrlimit_nofile(&raised).get("setrlimit(RLIMIT_NOFILE, \(target))")
        }
        return try current()
    }

    private static func clamped(_ value: rlim_t) -> Int {
        value >= rlim_t(Int.max) ? Int.max : Int(value)
    }
}
