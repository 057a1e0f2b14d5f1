import PlasmaEngine
import PlasmaCore

/// One memory budget for everything clients can make the store hold besides objects
/// (`--client-state-budget`): partial inbound frames, queued replies and events, Arrow notification
/// backlogs, waiting gets and creates. Callers charge bytes as they buffer them and release them as they
/// let go; a charge that doesn't fit is refused and the caller turns that into an error or a disconnect.
///
/// The limit is split three ways (docs/SECURITY.md, "The client-state budget"):
/// - a **floor** per client (`--max-clients` of them are reserved): what any client may always hold, so
///   that a small request is served however much hostile clients took;
/// - a slice for the records of **zero-byte objects**, which take no arena block (`emptyObjectLimit`);
/// - the shared **pool**, of which one client may take at most a **quarter** beyond its floor: it takes
///   at least four misbehaving clients to empty the pool, and one stalled subscriber alone never can.
///
/// Single-threaded: the event loop owns it, like the engine.
final class ClientStateBudget {
    enum Kind: Int, CaseIterable {
        case inboundFrames, outboundReplies, waitingGets, waitingCreates, events, arrowNotifications

        var name: String {
            switch self {
            case .inboundFrames: "partial inbound frames"
            case .outboundReplies: "queued replies"
            case .waitingGets: "waiting get ids"
            case .waitingCreates: "waiting creates"
            case .events: "queued events"
            case .arrowNotifications: "Arrow notifications"
            }
        }
    }

    /// One client's charges. The connection owns it; `closeAccount` gives everything back.
    final class Account {
        fileprivate(set) var used = 0
        fileprivate(set) var byKind = [Int](repeating: 0, count: Kind.allCases.count)
        subscript(kind: Kind) -> Int { byKind[kind.rawValue] }
    }

    /// What one waiting get id costs the store's heap: its slots in the get's id and result arrays, its
    /// entries in the get's pending index and in the per-object waiter index. Measured (docs/SECURITY.md):
    /// 169 bytes per id held after a heap trim, 241 bytes of RSS growth on a release store while the
    /// request frames that carried them were still in malloc's free lists; charged at the higher figure.
    /// A big get's results are made a chunk at a time as objects are found (GetResults), but charged as
    /// if all were: that is what it holds once they are.
    static let waitingGetIDCost = 256
    /// A waiting create's queue entry and bookkeeping, besides the inline bytes it carries.
    static let waitingCreateCost = 256
    /// What one object's record costs the store's heap: the slab slot, the id index's buckets, and the
    /// free-slot entry when it goes. The index holds up to ~35 bytes an entry while it grows (a table
    /// 11/16 full beside the next, twice its size: SlotIndex.swift), the free-slot entry 4. Charged
    /// for zero-byte objects only: the others are bounded by the arena (at most one per 64-byte block).
    static let objectRecordCost = StoreEngine.objectSlotBytes + 40

    let limit: Int
    let floor: Int
    let pool: Int
    let clientShare: Int
    /// Most zero-byte objects the store holds at once (their slice of the budget / `objectRecordCost`).
    let emptyObjectLimit: Int

    private(set) var used = 0
    private(set) var byKind = [Int](repeating: 0, count: Kind.allCases.count)
    /// Bytes of the pool in use: what clients hold beyond their floor.
    private var poolUsed = 0
    /// Charges refused since the start.
    private(set) var refusals = 0

    init(limit: Int, maxClients: Int) {
        self.limit = limit
        // 256 KiB covers any ordinary reply or partial frame; on a small budget the floors together take
        // at most a quarter of it, so that all charges together never pass the limit.
        floor = max(1, min(256 << 10, limit / 4 / max(1, maxClients)))
        let emptyObjectSlice = limit / 8
        emptyObjectLimit = emptyObjectSlice / Self.objectRecordCost
        pool = max(0, limit - floor * maxClients - emptyObjectSlice)
        clientShare = floor + pool / 4
    }

    /// The default budget: 1/16 of physical memory, within 1 GiB ... 16 GiB. 1 GiB lets one Arrow
    /// subscriber keep over 1,000,000 pending notifications (~105 bytes each) at the default 1,024
    /// clients; 1/16 keeps the worst case well inside the memory of the machine the store runs on.
    static func defaultLimit(physicalMemory: Int) -> Int {
        min(max(physicalMemory / 16, 1 << 30), 16 << 30)
    }

    /// Bytes `account` may still charge now.
    func headroom(of account: Account) -> Int {
        let byShare = clientShare - account.used
        // Forced charges (replies that exist already, frames a paused connection holds) can push the
        // pool past its size: that must not eat into other clients' floors.
        let byPool = max(0, pool - poolUsed) + max(0, floor - account.used)
        return max(0, min(byShare, byPool))
    }

    /// Sets `account`'s charge for `kind` to `bytes` if the result fits; returns false (changing nothing)
    /// when it doesn't. Lowering a charge always fits.
    @discardableResult
    func set(_ kind: Kind, to bytes: Int, for account: Account) -> Bool {
        let delta = bytes - account.byKind[kind.rawValue]
        if delta > 0, delta > headroom(of: account) {
            refusals += 1
            return false
        }
        apply(delta, kind, account)
        return true
    }

    /// Sets the charge whether it fits or not (the bytes are held already: a reply the engine produced);
    /// returns whether it fits.
    @discardableResult
    func force(_ kind: Kind, to bytes: Int, for account: Account) -> Bool {
        let delta = bytes - account.byKind[kind.rawValue]
        let fits = delta <= 0 || delta <= headroom(of: account)
        apply(delta, kind, account)
        return fits
    }

    func charge(_ bytes: Int, _ kind: Kind, to account: Account) -> Bool {
        set(kind, to: account.byKind[kind.rawValue] + bytes, for: account)
    }

    func release(_ bytes: Int, _ kind: Kind, from account: Account) {
        apply(-min(bytes, account.byKind[kind.rawValue]), kind, account)
    }

    /// Whether `account` could hold `bytes` of `kind` in all (what it holds of that kind included).
    func couldHold(_ bytes: Int, _ kind: Kind, for account: Account) -> Bool {
        bytes - account.byKind[kind.rawValue] <= headroom(of: account)
    }

    /// Gives back everything the account holds (its client left).
    func closeAccount(_ account: Account) {
        for kind in Kind.allCases { apply(-account.byKind[kind.rawValue], kind, account) }
    }

    /// Counts a refusal the caller decided on (a frame that can't fit, seen from its header).
    func countRefusal() { refusals += 1 }

    subscript(kind: Kind) -> Int { byKind[kind.rawValue] }

    private func apply(_ delta: Int, _ kind: Kind, _ account: Account) {
        guard delta != 0 else { return }
        let beyondFloorBefore = max(0, account.used - floor)
        account.used += delta
        account.byKind[kind.rawValue] += delta
        poolUsed += max(0, account.used - floor) - beyondFloorBefore
        used += delta
        byKind[kind.rawValue] += delta
    }

    /// "… 300 KiB asked, 1.2 MiB of this client's 260 MiB share in use, 1.1 GiB of the 1.4 GiB budget" —
    /// the numbers a refusal names.
    func describe(_ bytes: Int, for account: Account) -> String {
        "\(bytes) bytes asked; this client holds \(account.used) of its \(clientShare)-byte share, "
            + "all clients \(used) of the \(limit)-byte --client-state-budget"
    }
}
