@testable import PlasmaEngine
@testable import PlasmaStore
import PlasmaCore
import PlasmaPosix
import PlasmaWire
import Testing

/// The budget's arithmetic (ClientStateBudget.swift): floors, the pool and the per-client share.
@Suite struct ClientStateBudgetArithmeticTests {
    @Test func theLimitSplitsIntoFloorsTheEmptyObjectSliceAndThePool() {
        let budget = ClientStateBudget(limit: 8 << 20, maxClients: 8)
        #expect(budget.floor == 256 << 10)
        #expect(budget.pool == (8 << 20) - 8 * (256 << 10) - (1 << 20))
        #expect(budget.clientShare == budget.floor + budget.pool / 4)
        #expect(budget.emptyObjectLimit == (1 << 20) / ClientStateBudget.objectRecordCost)
        // Many clients on a small budget: the floors shrink so that they take at most a quarter.
        let crowded = ClientStateBudget(limit: 64 << 20, maxClients: 1024)
        #expect(crowded.floor * 1024 <= (64 << 20) / 4)
    }

    @Test func theDefaultCoversAMillionArrowNotificationsForOneSubscriber() {
        for memory in [1 << 30, 4 << 30, 64 << 30, 1 << 40] {
            let limit = ClientStateBudget.defaultLimit(physicalMemory: memory)
            #expect(limit >= 1 << 30 && limit <= 16 << 30)
            let budget = ClientStateBudget(limit: limit, maxClients: 1024)
            #expect(budget.clientShare >= 1_000_000 * 105, "~105 bytes per pending Arrow notification")
        }
    }

    @Test func oneClientTakesAtMostItsShareAndGivesItAllBack() {
        let budget = ClientStateBudget(limit: 8 << 20, maxClients: 8)
        let greedy = ClientStateBudget.Account()
        #expect(budget.charge(budget.clientShare, .inboundFrames, to: greedy))
        #expect(!budget.charge(1, .events, to: greedy))
        #expect(budget.refusals == 1)
        #expect(greedy.used == budget.clientShare && budget.used == budget.clientShare)
        budget.closeAccount(greedy)
        #expect(budget.used == 0 && budget[.inboundFrames] == 0 && greedy.used == 0)
    }

    @Test func whenThePoolIsSpentEveryClientStillHasItsFloor() {
        let budget = ClientStateBudget(limit: 8 << 20, maxClients: 8)
        var greedy: [ClientStateBudget.Account] = []
        for _ in 0..<8 {
            let account = ClientStateBudget.Account()
            _ = budget.set(.inboundFrames, to: min(budget.clientShare, budget.headroom(of: account)), for: account)
            greedy.append(account)
        }
        let latecomer = ClientStateBudget.Account()
        #expect(budget.headroom(of: latecomer) == budget.floor)
        #expect(budget.charge(budget.floor, .outboundReplies, to: latecomer))
        #expect(!budget.charge(1, .outboundReplies, to: latecomer))
        #expect(budget.used <= budget.limit)
        // What one greedy client gives back, the latecomer may take.
        budget.closeAccount(greedy[0])
        #expect(budget.charge(1 << 20, .outboundReplies, to: latecomer))
    }

    /// Forced charges (replies that exist, frames a paused connection holds) may push the pool past its
    /// size; the other clients keep their floors all the same.
    @Test func chargesForcedPastThePoolLeaveOtherClientsTheirFloors() {
        let budget = ClientStateBudget(limit: 8 << 20, maxClients: 8)
        var greedy: [ClientStateBudget.Account] = []
        for _ in 0..<4 {
            let account = ClientStateBudget.Account()
            budget.force(.inboundFrames, to: budget.clientShare + (512 << 10), for: account)
            greedy.append(account)
        }
        let latecomer = ClientStateBudget.Account()
        #expect(budget.headroom(of: latecomer) == budget.floor)
        #expect(budget.charge(budget.floor, .outboundReplies, to: latecomer))
    }

    @Test func forcingAChargeCountsItEvenOverTheShareAndLoweringAlwaysFits() {
        let budget = ClientStateBudget(limit: 8 << 20, maxClients: 8)
        let account = ClientStateBudget.Account()
        #expect(!budget.force(.outboundReplies, to: budget.clientShare + 1, for: account))
        #expect(account[.outboundReplies] == budget.clientShare + 1)
        #expect(budget.set(.outboundReplies, to: 10, for: account))
        #expect(budget.used == 10)
    }
}

/// The engine's side: it counts waits and asks its `WaitMeter`; it never holds bytes.
@Suite struct EngineWaitMeterTests {
    final class RecordingMeter: WaitMeter {
        var held: [ClientID: [WaitCost]] = [:]
        var refuse = false
        func admit(_ cost: WaitCost, for client: ClientID) -> String? {
            if refuse { return "over budget" }
            held[client, default: []].append(cost)
            return nil
        }
        func release(_ cost: WaitCost, for client: ClientID) {
            let index = held[client]?.firstIndex(of: cost)
            #expect(index != nil, "released \(cost), never admitted")
            if let index { held[client]!.remove(at: index) }
        }
        var total: Int { held.values.map(\.count).reduce(0, +) }
    }

    func harness(capacity: Int = 1000, meter: RecordingMeter, emptyLimit: Int? = nil) -> EngineHarness {
        let harness = EngineHarness(capacity: capacity) { $0.maxEmptyObjects = emptyLimit }
        harness.engine.waitMeter = meter
        return harness
    }

    @Test func aRefusedGetIsAnsweredLimitReachedWithTheMetersReasonAndHoldsNothing() {
        let meter = RecordingMeter()
        let harness = harness(meter: meter)
        let client = harness.connect()
        meter.refuse = true
        let reply = harness.get([testID(1), testID(2)], timeout: -1, from: client)
        guard case .failure(.limitReached, let message)? = reply else {
            Issue.record("expected limitReached, got \(String(describing: reply))")
            return
        }
        #expect(message.contains("a get waiting on 2 ids: over budget"), "\(message)")
        #expect(harness.statistics.pendingGets == 0)
        // A get answered at once is never metered.
        #expect(harness.get([testID(1)], timeout: 0, from: client)?.status == .ok)
        harness.expectConsistent()
    }

    @Test func everyWayAGetStopsWaitingReleasesItsCharge() {
        let meter = RecordingMeter()
        let harness = harness(meter: meter)
        let client = harness.connect()
        #expect(harness.get([testID(1), testID(2), testID(1)], timeout: -1, from: client) == nil)
        #expect(meter.held[client] == [.getIDs(3)])
        harness.put(testID(1), size: 10, from: client)
        #expect(meter.total == 1, "still waiting for testID(2)")
        harness.put(testID(2), size: 10, from: client)
        #expect(meter.total == 0, "answered")

        #expect(harness.get([testID(3)], timeout: 5, from: client) == nil)
        harness.clock.advance(milliseconds: 6)
        harness.engine.fireDeadlines()
        #expect(meter.total == 0, "timed out")

        let requestID = harness.freshRequestID()
        #expect(harness.get([testID(4)], timeout: -1, from: client, requestID: requestID) == nil)
        #expect(harness.send(.cancel(requestID: requestID), from: client)?.status == .ok)
        #expect(meter.total == 0, "cancelled")

        #expect(harness.get([testID(5)], timeout: -1, from: client) == nil)
        harness.engine.disconnect(client)
        #expect(meter.total == 0, "client left")
    }

    @Test func aWaitingGetFillsEveryPositionOfAnIDAskedForMoreThanOnce() {
        let meter = RecordingMeter()  // the engine holds its meter weakly
        defer { withExtendedLifetime(meter) {} }
        let harness = harness(meter: meter)
        let client = harness.connect()
        let other = harness.connect()
        let requestID = harness.freshRequestID()
        let ids = [testID(1), testID(2), testID(1), testID(3), testID(1)]
        #expect(harness.get(ids, timeout: -1, from: client, requestID: requestID) == nil)
        #expect(harness.get([testID(1)], timeout: -1, from: other) == nil, "a second waiter on the same object")
        harness.put(testID(3), size: 30, from: client)
        harness.put(testID(1), size: 10, from: client)
        #expect(harness.replies(to: requestID, of: client).isEmpty)
        harness.put(testID(2), size: 20, from: client)
        guard case .objects(let found)? = harness.replies(to: requestID, of: client).first else {
            Issue.record("the get was not answered")
            return
        }
        #expect(found.map { $0?.dataSize } == [10, 20, 10, 30, 10])
        #expect(harness.repliesReceived(by: other).count == 1, "the other waiter was answered too")
    }

    @Test func waitingCreatesAreMeteredWithTheirInlineBytesAndReleasedEveryWay() {
        let meter = RecordingMeter()
        let harness = harness(capacity: 100, meter: meter)
        let holder = harness.connect()
        let client = harness.connect()
        harness.putHeld(testID(1), size: 100, from: holder)
        #expect(harness.createAndSeal(testID(2), data: [UInt8](repeating: 1, count: 40), timeout: -1, from: client) == nil)
        #expect(harness.create(testID(3), data: 50, timeout: 5, from: client) == nil)
        #expect(meter.held[client] == [.create(inlineBytes: 40), .create(inlineBytes: 0)])
        harness.clock.advance(milliseconds: 6)
        harness.engine.fireDeadlines()
        #expect(meter.held[client] == [.create(inlineBytes: 40)], "the plain create timed out")
        #expect(harness.release([testID(1)], from: holder)?.status == .ok)  // evictable: space for the waiter
        #expect(meter.total == 0, "served")

        meter.refuse = true
        harness.putHeld(testID(4), size: 100, from: holder)
        let refused = harness.create(testID(5), data: 10, timeout: -1, from: client)
        #expect(refused?.status == .limitReached)
        meter.refuse = false
        #expect(harness.create(testID(6), data: 10, timeout: -1, from: client) == nil)
        harness.engine.disconnect(client)
        #expect(meter.total == 0, "client left")
        harness.expectConsistent()
    }

    @Test func zeroByteObjectsStopAtTheirLimitAndDeletingOneMakesRoom() {
        let meter = RecordingMeter()  // the engine holds its meter weakly
        defer { withExtendedLifetime(meter) {} }
        let harness = harness(meter: meter, emptyLimit: 3)
        let client = harness.connect()
        for seed: UInt8 in 1...3 { #expect(harness.createAndSeal(testID(seed), data: [], from: client)?.status == .ok) }
        let refused = harness.createAndSeal(testID(4), data: [], from: client)
        guard case .failure(.outOfMemory, let message)? = refused else {
            Issue.record("expected outOfMemory, got \(String(describing: refused))")
            return
        }
        #expect(message.contains("3 zero-byte objects"), "\(message)")
        #expect(harness.create(testID(5), data: 0, from: client)?.status == .outOfMemory)
        #expect(harness.createAndSeal(testID(6), data: [1], from: client)?.status == .ok, "objects with bytes are not limited")
        #expect(harness.statistics.emptyObjects == 3)
        #expect(harness.delete([testID(1)], from: client)?.status == .ok)
        #expect(harness.createAndSeal(testID(4), data: [], from: client)?.status == .ok)
        harness.expectConsistent()
    }

    /// Review finding: a zero-byte create that would wait at the limit sat at the head of the create
    /// queue, where no freed bytes could ever serve it, and every create waiting behind it waited too.
    @Test func aZeroByteCreateAtTheLimitFailsAtOnceAndDoesNotHoldUpCreatesWaitingForBytes() {
        let meter = RecordingMeter()  // the engine holds its meter weakly
        defer { withExtendedLifetime(meter) {} }
        let harness = harness(capacity: 100, meter: meter, emptyLimit: 1)
        let holder = harness.connect()
        let client = harness.connect()
        #expect(harness.createAndSeal(testID(1), data: [], from: client)?.status == .ok)
        harness.putHeld(testID(2), size: 100, from: holder)
        let empty = harness.createAndSeal(testID(3), data: [], timeout: -1, from: client)
        #expect(empty?.status == .outOfMemory, "fails at once: \(String(describing: empty))")
        let waiting = harness.freshRequestID()
        #expect(harness.create(testID(4), data: 50, timeout: -1, from: client, requestID: waiting) == nil, "waits for bytes")
        #expect(harness.release([testID(2)], from: holder)?.status == .ok)  // evictable: room for it
        #expect(harness.replies(to: waiting, of: client).first?.status == .ok, "served once bytes were freed")
        harness.expectConsistent()
    }
}

/// Disconnect lines for misbehaving clients (the server's WarningRateLimit of 20 a second): a burst per
/// second, then silence, then a count of what was held back.
@Suite struct DisconnectLogRateTests {
    @Test func aBurstPerSecondThenTheCountOfSuppressedLines() {
        let second: UInt64 = 1_000_000_000
        var limiter = WarningRateLimit(burst: 3, intervalNanoseconds: second)
        let start = 5 * second
        #expect((0..<3).map { _ in limiter.admit(now: start) }.allSatisfy { $0 == (true, 0) })
        #expect((0..<10).map { _ in limiter.admit(now: start + second / 2) }.allSatisfy { !$0.log })
        #expect(limiter.admit(now: start + second) == (true, 10), "the next window's first line tells what was held back")
        #expect(limiter.admit(now: start + second) == (true, 0))
    }
}
