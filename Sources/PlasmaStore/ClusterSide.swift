import PlasmaClusterCore
import PlasmaCore
import PlasmaEngine
import PlasmaPosix

/// What the loop keeps for the cluster (StoreServer+Cluster.swift). Loop thread only, except the
/// mailbox and the checksum worker, which are built for other threads.
final class ClusterSide {
    let attachment: ClusterAttachment
    let mailbox: ClusterMailbox
    /// Hashes big objects off the loop (a 1 GiB XXH64 takes a few hundred milliseconds); wakes the
    /// loop through the mailbox's eventfd.
    let hasher: WorkerThread<ComputedChecksum>

    /// Ids this node has told the directory it wants (and not yet unwanted).
    var wanted: Set<ObjectID> = []
    /// Locations reported for wanted ids, in the order they came: the next pull tries the first.
    var candidates: [ObjectID: [ClusterLocation]] = [:]
    /// Pulls under way, by id.
    var pulls: [ObjectID: PullUnderWay] = [:]
    /// Wanted ids whose pulls all failed, with when to ask the directory for their locations again.
    var retries: [ObjectID: PullRetry] = [:]
    /// The earliest `due` of `retries` (nil: none), for the loop's sleep.
    var nextRetry: UInt64? { retries.values.lazy.map(\.due).min() }
    /// Big objects published without their checksum, with when their hashing may start.
    var hashesDue: [ObjectID: HashDue] = [:]
    /// Peers' pins, by id: pulls of this node's objects under way.
    var peerPins: [ObjectID: Int] = [:]
    /// Other nodes waiting on ids, by id.
    var remoteWants: [ObjectID: Set<String>] = [:]
    /// Ids whose location this node published and hasn't unpublished.
    var published: Set<ObjectID> = []
    /// Checksums of objects in the arena (computed once per object; dropped when it leaves).
    var checksums: [ObjectID: UInt64] = [:]
    /// Ids being hashed off the loop (each pinned meanwhile).
    var hashing: Set<ObjectID> = []
    /// Something was batched for the directory since its last flush.
    var unflushed = false
    var counters = ClusterCounters()
    var warnings = WarningRateLimit(burst: 10, intervalNanoseconds: 10_000_000_000)

    init(attachment: ClusterAttachment) throws(SystemError) {
        self.attachment = attachment
        mailbox = try ClusterMailbox()
        hasher = try WorkerThread(notify: mailbox.signal)
    }

    deinit { hasher.stop() }  // a server made and never run; otherwise already stopped
}

/// When a big object's hash (for `first/`) may start, in monotonic nanoseconds: from `earliest` once
/// no peer is pulling it, and at `latest` whatever is being pulled (a later publisher of the id waits
/// for the checksum, and overlapping pulls from many nodes must not put it off for good).
struct HashDue {
    var earliest: UInt64
    var latest: UInt64

    /// Long enough for the wanting node's pull to begin (etcd's watch, a connection), which goes first.
    static let delay: UInt64 = 50_000_000
    /// The longest a pull puts the hash off.
    static let maximumDelay: UInt64 = 1_000_000_000

    init(from now: UInt64) {
        earliest = now + Self.delay
        latest = now + Self.maximumDelay
    }

    func hasCome(_ now: UInt64, pulled: Bool) -> Bool { now >= (pulled ? latest : earliest) }
}

/// When a wanted id whose pulls failed asks the directory again, and how long the wait after that.
struct PullRetry {
    /// Monotonic nanoseconds.
    var due: UInt64
    /// The wait before this retry; the next one doubles it, up to ``maximumDelay``.
    var delay: UInt64

    static let firstDelay: UInt64 = 50_000_000
    static let maximumDelay: UInt64 = 2_000_000_000
}

/// A pull the puller runs: where from, and whether its copy's block is reserved yet (only once the
/// holder's authenticated reply confirmed the sizes), or why the store declined to reserve it.
struct PullUnderWay {
    let location: ClusterLocation
    var reserved = false
    var declined: EngineError?
}

/// A checksum the hasher computed.
struct ComputedChecksum {
    let id: ObjectID
    let checksum: UInt64
}

/// The cluster's figures for `stats`.
struct ClusterCounters {
    var pullsStarted = 0
    var pullsSucceeded = 0
    var pullsFailed = 0
    var pulledBytes = 0
    var wantsPublished = 0
    var locationsPublished = 0
    var publishesRefused = 0
    var inlineCopies = 0
    var inlineCopiesRefused = 0

    func fill(_ statistics: inout StoreStatistics, pinnedObjects: Int) {
        statistics.clusterPullsStarted = Int64(pullsStarted)
        statistics.clusterPullsSucceeded = Int64(pullsSucceeded)
        statistics.clusterPullsFailed = Int64(pullsFailed)
        statistics.clusterPulledBytes = Int64(pulledBytes)
        statistics.clusterWantsPublished = Int64(wantsPublished)
        statistics.clusterLocationsPublished = Int64(locationsPublished)
        statistics.clusterPublishesRefused = Int64(publishesRefused)
        statistics.clusterPinnedObjects = Int64(pinnedObjects)
        statistics.clusterInlineCopies = Int64(inlineCopies)
        statistics.clusterInlineCopiesRefused = Int64(inlineCopiesRefused)
    }
}
