import PlasmaCore
import PlasmaWire
import Testing

@testable import PlasmaEngine
@testable import PlasmaStore

/// Waits that end early (answered, cancelled, their client gone) must not leave entries behind that
/// live on until their timeout: with long timeouts the store's memory would grow with the rate of
/// waits instead of with the waits in progress. Found by `plasma-bench soak`.
@Suite struct StaleEntryTests {
    static let rounds = 10_000
    /// Generous: what the engine may keep beyond the live waits before it cleans up.
    static let slack = 1_000

    @Test func answeredCancelledAndAbandonedGetsDoNotKeepTheirDeadlines() {
        let harness = EngineHarness(capacity: 1 << 20)
        let writer = harness.connect()
        var reader = harness.connect()
        for round in 0..<Self.rounds {
            let id = ObjectID.random()
            let requestID = harness.freshRequestID()
            #expect(harness.get([id], timeout: 3_600_000, from: reader, requestID: requestID) == nil, "waits an hour")
            switch round % 3 {
            case 0:
                harness.createAndSeal(id, data: [1], from: writer)  // answers it
                harness.release([id], from: reader)
                harness.delete([id], from: writer)
            case 1:
                harness.send(.cancel(requestID: requestID), from: reader)
            default:
                harness.engine.disconnect(reader)
                reader = harness.connect()
            }
        }
        #expect(harness.statistics.pendingGets == 0)
        #expect(harness.engine.deadlines.count <= Self.slack, "\(harness.engine.deadlines.count) deadlines for no waits")
        harness.expectConsistent()
    }

    /// A cancelled create-and-seal's charge is released at the cancel: its bytes must go then too, not
    /// when its queue entry reaches the head or is swept.
    @Test func aCancelledOrExpiredCreateAndSealFreesItsInlineBytesAtOnce() {
        let harness = EngineHarness(capacity: 4096)
        let (holder, head, client) = (harness.connect(), harness.connect(), harness.connect())
        harness.putHeld(testID(1), size: 4096, from: holder)  // full, and nothing is evictable
        #expect(harness.create(testID(2), data: 4096, timeout: -1, from: head, requestID: harness.freshRequestID()) == nil)
        let payload = [UInt8](repeating: 7, count: 1024)
        let cancelled = harness.freshRequestID()
        #expect(harness.createAndSeal(.random(), data: payload, timeout: -1, from: client, requestID: cancelled) == nil)
        #expect(harness.createAndSeal(.random(), data: payload, timeout: 1, from: client, requestID: harness.freshRequestID()) == nil)
        #expect(harness.engine.waitingCreates.inlineBytes == 2048)
        harness.send(.cancel(requestID: cancelled), from: client)
        #expect(harness.engine.waitingCreates.inlineBytes == 1024, "freed at the cancel")
        harness.clock.advance(milliseconds: 2)
        harness.engine.fireDeadlines()
        #expect(harness.engine.waitingCreates.inlineBytes == 0, "freed at the timeout")
        #expect(harness.engine.waitingCreates.queuedEntries == 3, "their entries still wait behind the head")
        harness.expectConsistent()
    }

    @Test func cancelledAndExpiredCreatesDoNotPileUpBehindOneThatWaits() {
        let harness = EngineHarness(capacity: 4096)
        let (holder, head, client) = (harness.connect(), harness.connect(), harness.connect())
        harness.putHeld(testID(1), size: 4096, from: holder)  // full, and nothing is evictable
        let headRequest = harness.freshRequestID()
        #expect(harness.create(testID(2), data: 4096, timeout: -1, from: head, requestID: headRequest) == nil)
        let payload = [UInt8](repeating: 7, count: 1024)
        for round in 0..<Self.rounds {
            let requestID = harness.freshRequestID()
            let timeout: Int64 = round.isMultiple(of: 2) ? -1 : 1
            #expect(harness.createAndSeal(.random(), data: payload, timeout: timeout, from: client, requestID: requestID) == nil)
            if timeout < 0 {
                harness.send(.cancel(requestID: requestID), from: client)
            } else {
                harness.clock.advance(milliseconds: 2)
                harness.engine.fireDeadlines()
            }
        }
        #expect(harness.statistics.pendingCreates == 1, "only the head still waits")
        #expect(harness.engine.waitingCreates.queuedEntries <= Self.slack,
                "\(harness.engine.waitingCreates.queuedEntries) queued creates (with their bytes) for one that waits")
        harness.release([testID(1)], from: holder)
        harness.delete([testID(1)], from: holder)
        #expect(harness.replies(to: headRequest, of: head).last?.status == .ok, "the head is served once there is room")
        harness.expectConsistent()
    }
}
