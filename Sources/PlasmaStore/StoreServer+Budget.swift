import PlasmaEngine
import PlasmaCore

/// The engine's waits priced against the client-state budget: the engine counts ids and creates, this
/// turns them into bytes charged to the waiting client's account.
final class BudgetWaitMeter: WaitMeter {
    let budget: ClientStateBudget
    /// The account of a connected client; nil once it is gone (its account was closed whole).
    var account: (ClientID) -> ClientStateBudget.Account? = { _ in nil }

    init(budget: ClientStateBudget) { self.budget = budget }

    static func bytes(of cost: WaitCost) -> (Int, ClientStateBudget.Kind) {
        switch cost {
        case .getIDs(let count): (count * ClientStateBudget.waitingGetIDCost, .waitingGets)
        case .create(let inline): (ClientStateBudget.waitingCreateCost + inline, .waitingCreates)
        }
    }

    func admit(_ cost: WaitCost, for client: ClientID) -> String? {
        guard let account = account(client) else { return nil }
        let (bytes, kind) = Self.bytes(of: cost)
        guard !budget.charge(bytes, kind, to: account) else { return nil }
        return budget.describe(bytes, for: account)
    }

    func release(_ cost: WaitCost, for client: ClientID) {
        guard let account = account(client) else { return }
        let (bytes, kind) = Self.bytes(of: cost)
        budget.release(bytes, kind, from: account)
    }
}

extension StoreServer {
    /// Charges what stays buffered (a partial frame, or frames held while paused); false when it doesn't
    /// fit (the connection is then closed). An emptied buffer that grew big is given back to the heap.
    func settleInbound(_ connection: Connection) -> Bool {
        // What stays after frames were consumed may sit in a buffer grown for a big frame: move it to one
        // of its own size, so that the charge (the bytes) is what the heap holds.
        let count = connection.inbound.count
        if connection.inbound.capacity > max(256 << 10, 2 * max(count, connection.partialFrameBytes)) {
            var fitted: [UInt8] = []
            fitted.reserveCapacity(count)
            fitted.append(contentsOf: connection.inbound)
            swap(&fitted, &connection.inbound)
            BufferRelease.shared.release(&fitted)  // the grown one: freed off the loop
        }
        return chargeInbound(connection.inbound.count, on: connection)
    }

    /// Charges `held` bytes buffered inbound; false, with the connection closed, when they don't fit.
    /// Frames a paused connection holds (StoreServer+Pacing.swift) are charged whatever the budget says:
    /// they are requests already read, at most one read's worth beyond an admitted partial frame (a
    /// paused connection isn't read), and refusing them would close a client for pipelining.
    func chargeInbound(_ held: Int, on connection: Connection) -> Bool {
        if connection.framesPaused {
            budget.force(.inboundFrames, to: held, for: connection.account)
            return true
        }
        guard budget.set(.inboundFrames, to: held, for: connection.account) else {
            close(connection, reason: "a partial frame over the client-state budget: \(budget.describe(held - connection.account[.inboundFrames], for: connection.account))")
            return false
        }
        return true
    }

    /// A frame of `size` bytes has begun to arrive: refuse it now if it could never be buffered whole,
    /// rather than after buffering most of it.
    func admitFrame(of size: Int, on connection: Connection) -> Bool {
        guard !budget.couldHold(size, .inboundFrames, for: connection.account) else {
            connection.partialFrameBytes = size
            return true
        }
        budget.countRefusal()
        close(connection, reason: "a \(size)-byte frame can't fit in the client-state budget: \(budget.describe(size, for: connection.account))")
        return false
    }

    /// Brings the charges for queued replies and events up to date (after a write, or a reply queued by
    /// the Arrow dialect's code); returns whether they fit.
    @discardableResult
    func settleOutput(_ connection: Connection) -> Bool {
        let replies = budget.force(.outboundReplies, to: connection.outbound.heldBytes, for: connection.account)
        let events = budget.force(.events, to: connection.events.byteCount, for: connection.account)
        return replies && events
    }

    /// For the Arrow dialect's notifier: sets the charge for `connection`'s notification backlog to
    /// `bytes` (what waits unsent). False, changing nothing, when that is over the client's share: the
    /// caller then drops the subscription (Arrow has no overflow marker) and sets the charge to 0 once
    /// the backlog is freed. Lowering always succeeds; a closed connection's account is closed whole.
    @discardableResult
    func chargeArrowBacklog(of connection: Connection, to bytes: Int) -> Bool {
        budget.set(.arrowNotifications, to: bytes, for: connection.account)
    }

    /// The room `connection` has for more queued events: its own limit, or what the budget still allows.
    func eventRoom(_ connection: Connection) -> Int {
        connection.events.byteCount + budget.headroom(of: connection.account)
    }

    func fillBudgetStatistics(_ statistics: inout StoreStatistics) {
        statistics.clientStateBudget = Int64(budget.limit)
        statistics.clientStateUsed = Int64(budget.used)
        statistics.clientStateRefusals = Int64(budget.refusals)
        statistics.clientStateInbound = Int64(budget[.inboundFrames])
        statistics.clientStateReplies = Int64(budget[.outboundReplies])
        statistics.clientStateWaitingGets = Int64(budget[.waitingGets])
        statistics.clientStateWaitingCreates = Int64(budget[.waitingCreates])
        statistics.clientStateEvents = Int64(budget[.events])
        statistics.clientStateArrowNotifications = Int64(budget[.arrowNotifications])
        statistics.emptyObjectsLimit = Int64(budget.emptyObjectLimit)
    }
}
