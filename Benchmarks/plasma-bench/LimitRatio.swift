/// Which of the machine's limits a row is set against (`MachineLimits`).
enum LimitKind: Equatable {
    /// Bytes copied into shared memory per second, for objects of this size (puts): one thread's memmove.
    case copy(Int)
    /// The same copy cut into chunks on `threads` threads (`ParallelCopy`, what the client's write does).
    case parallelCopy(Int, threads: Int)
    /// Bytes read from shared memory per second, for objects of this size (gets).
    case read(Int)
    /// One request per polling round trip: the rate limit is 1 / that round trip (ops/s figures).
    case roundTripRate
    /// Bytes per second over loopback TCP, `sendfile` → `recv`, for objects of this size (transfer rows).
    case tcp(Int)
    /// A latency set against one round trip with both sides sleeping in read, back to back: the ratio
    /// is latency / round trip, lower is better.
    case roundTripLatency
    /// The same round trip with each side waiting as the wake rows' sealer does before it sends
    /// (`RoundTripMode.afterIdle`): reported beside the wake rows.
    case roundTripAfterIdle

    var unit: String {
        switch self {
        case .copy, .parallelCopy, .read, .tcp: "GB/s"
        case .roundTripRate: "ops/s"
        case .roundTripLatency, .roundTripAfterIdle: "us"
        }
    }

    /// A short name for the table and the JSON.
    var name: String {
        switch self {
        case .copy(let size): "copy-into-shared-\(MachineLimits.sizeName(size))"
        case .parallelCopy(let size, let threads): "copy-into-shared-\(MachineLimits.sizeName(size))-\(threads)threads"
        case .read(let size): "read-shared-\(MachineLimits.sizeName(size))"
        case .tcp(let size): "loopback-tcp-sendfile-recv-\(MachineLimits.sizeName(size))"
        case .roundTripRate: "1/uds-round-trip-polling"
        case .roundTripLatency: "uds-round-trip-p50"
        case .roundTripAfterIdle: "uds-round-trip-after-idle-p50"
        }
    }
}

/// A row's headline value beside the limit measured between its repetitions.
struct LimitedFigure {
    let kind: LimitKind
    /// The row's median, in the limit's unit.
    let value: Double
    /// The median of the limit's samples (one taken before each repetition; before and after, for the
    /// wake rows).
    let limit: Double
    let samples: Int

    /// value / limit: the share of the limit reached (for latencies, how many round trips it took).
    var ratio: Double { value / limit }

    init(kind: LimitKind, value: Double, samples: [Double]) {
        (self.kind, self.value, self.samples) = (kind, value, samples.count)
        // The median; of an even count, the mean of the middle two (the wake rows take two samples,
        // before and after: the upper one alone would favour the row).
        let sorted = samples.sorted(), middle = sorted.count / 2
        limit = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    var limitText: String {
        kind.unit == "us" ? String(format: "%.1f us", limit) : "\(Report.format(limit)) \(kind.unit)"
    }

    /// JSON fields, each name after `prefix` (`parallel_` for the second limit of put rows).
    func json(prefix: String = "") -> [(String, String)] {
        [("limit_name", "\"\(kind.name)\""), ("limit", "\(limit)"), ("limit_unit", "\"\(kind.unit)\""),
         ("limit_samples", "\(samples)"), ("ratio", "\(ratio)")].map { (prefix + $0.0, $0.1) }
    }
}
