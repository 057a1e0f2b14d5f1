/// What a `soak` client counts. A client prints its counts as one line, "tally n0 n1 …" in this order;
/// the parent keeps the latest line of each process (so a killed one keeps what it last reported).
///
/// Outcomes the soak expects under its load are counted here, never reported as errors. Deliberately:
/// - `exists`: a put of a working-set id that is still stored (each slot reuses its own ids).
/// - `outOfMemory`: a create the store refused because evicting couldn't make room (other clients hold
///   references or unsealed objects), also after waiting for space.
/// - `missed`: a get that found nothing at once (not created yet, evicted or deleted).
/// - `deleteRaced`: delete answered objectNotFound (gone already) or objectNotSealed (still being written).
/// - `deferred`: delete answered deletionDeferred (someone holds a reference).
/// - `timedOut`: a get of an id that never exists ran out its short timeout (nil, on either client).
/// - `cancelled`: an await that was cancelled threw PlasmaClientError.cancelled.
/// - `overflow`: a subscription reported dropped events.
/// Everything else a request ends with is `unexpected` and fails the soak.
enum SoakCounter: Int, CaseIterable {
    case operations
    case putInline, putInPlace, putBatch, aborted, get, getMissing, delete, contains, list
    case subscribe, awaitSeal, awaitCancel, awaitTimeout, stats, evict, reconnect, releaseHeld
    case exists, outOfMemory, missed, deleteRaced, deferred, timedOut, cancelled, overflow
    case unexpected

    /// The operations, in the order the summary lists them.
    static let operationKinds: [SoakCounter] = [
        .putInline, .putInPlace, .putBatch, .aborted, .get, .getMissing, .delete, .contains, .list,
        .subscribe, .awaitSeal, .awaitCancel, .awaitTimeout, .stats, .evict, .reconnect, .releaseHeld,
    ]
    static let expectedKinds: [SoakCounter] = [
        .exists, .outOfMemory, .missed, .deleteRaced, .deferred, .timedOut, .cancelled, .overflow,
    ]

    var name: String {
        switch self {
        case .operations: "operations"
        case .putInline: "put_inline"
        case .putInPlace: "put_in_place"
        case .putBatch: "put_batch"
        case .aborted: "aborted"
        case .get: "get"
        case .getMissing: "get_missing"
        case .delete: "delete"
        case .contains: "contains"
        case .list: "list"
        case .subscribe: "subscribe"
        case .awaitSeal: "await_seal"
        case .awaitCancel: "await_cancel"
        case .awaitTimeout: "await_timeout"
        case .stats: "stats"
        case .evict: "evict"
        case .reconnect: "reconnect"
        case .releaseHeld: "release_held"
        case .exists: "object_exists"
        case .outOfMemory: "out_of_memory"
        case .missed: "get_missed"
        case .deleteRaced: "delete_raced"
        case .deferred: "deletion_deferred"
        case .timedOut: "timed_out"
        case .cancelled: "cancelled"
        case .overflow: "overflow"
        case .unexpected: "unexpected"
        }
    }
}

/// Counts per `SoakCounter`.
struct SoakTally {
    private(set) var counts = [Int](repeating: 0, count: SoakCounter.allCases.count)

    subscript(counter: SoakCounter) -> Int { counts[counter.rawValue] }

    mutating func add(_ counter: SoakCounter, _ amount: Int = 1) { counts[counter.rawValue] += amount }

    mutating func add(_ other: SoakTally) {
        for index in counts.indices { counts[index] += other.counts[index] }
    }

    var line: String { "tally " + counts.map(String.init).joined(separator: " ") }

    /// Parses `line`; nil when it isn't a complete tally line.
    init?(line: Substring) {
        let fields = line.split(separator: " ")
        guard fields.first == "tally", fields.count == counts.count + 1 else { return nil }
        let values = fields.dropFirst().compactMap { Int($0) }
        guard values.count == counts.count else { return nil }
        counts = values
    }

    init() {}
}
