@testable import PlasmaEngine
@testable import PlasmaStore
import PlasmaCore
import Testing

/// Both dialects' gets take part in a cluster's demand through their adapters (EngineHarness.swift):
/// a native or Arrow get that may wait wants an absent id; a poll (timeout 0) of either stays local.
@Suite struct DialectDemandTests {
    @Test func nativeAndArrowGetsThatWaitBeginDemandAndPollsDoNot() {
        let harness = EngineHarness(capacity: 4096)
        harness.engine.enableCluster()
        let native = harness.engine.connect()
        let arrow = harness.arrowClient()
        _ = harness.send(.get(ids: [testID(1)], timeoutMilliseconds: 0), from: native)
        _ = harness.arrowSend(.get(ids: [testID(2)], timeoutMs: 0), from: arrow)
        #expect(harness.engine.takeDemandChanges().began.isEmpty, "polls stay local")
        #expect(harness.send(.get(ids: [testID(1)], timeoutMilliseconds: 1000), from: native) == nil, "waits")
        #expect(harness.arrowSend(.get(ids: [testID(2)], timeoutMs: -1), from: arrow) == nil, "waits")
        #expect(Set(harness.engine.takeDemandChanges().began) == [testID(1), testID(2)])
        harness.engine.disconnect(arrow)
        #expect(harness.engine.takeDemandChanges().ended == [testID(2)], "the Arrow client left")
    }
}
