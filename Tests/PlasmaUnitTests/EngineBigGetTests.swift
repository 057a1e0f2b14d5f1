import PlasmaCore
import PlasmaEngine
import Testing

/// Gets of more ids than a slice (StoreEngine+GetScan.swift) against the per-client limits.
@Suite struct EngineBigGetTests {
    /// A get of many ids that won't wait is held only while it is looked up: it counts among the gets
    /// being looked up, not the waiting ones, so a client at its waiting-get limit can still make one,
    /// as it can a small one.
    @Test func aBigGetThatWillNotWaitIsNotRefusedAsAWaitingGet() {
        let store = LoneEngine(capacity: 4096) { configuration in
            configuration.maxWaitingGetsPerClient = 2
            configuration.getSliceIDs = 4
        }
        let writer = store.engine.connect()
        let reader = store.engine.connect()
        #expect(store.put(testID(1), size: 8, by: writer))
        #expect(store.engine.get([testID(90)], timeoutMilliseconds: -1, client: reader, ticket: 1) == .waiting)
        #expect(store.engine.get([testID(91)], timeoutMilliseconds: -1, client: reader, ticket: 2) == .waiting)
        #expect(store.engine.get([testID(92)], timeoutMilliseconds: -1, client: reader, ticket: 3).refusal == .limitReached,
                "the waiting-get limit holds")
        #expect(store.engine.get([testID(1)], timeoutMilliseconds: 0, client: reader, ticket: 4) == .answered([ObjectLocation(offset: 0, dataSize: 8, metadataSize: 0)]))
        _ = store.engine.release(testID(1), client: reader)

        let ids = [testID(1)] + (100..<109).map { testID($0) }  // 10 ids: three slices of 4
        #expect(store.engine.get(ids, timeoutMilliseconds: 0, client: reader, ticket: 5) == .waiting, "looked up in slices")
        #expect(store.engine.get(ids, timeoutMilliseconds: 0, client: reader, ticket: 6) == .waiting)
        #expect(store.engine.get(ids, timeoutMilliseconds: 0, client: reader, ticket: 7).refusal == .limitReached,
                "two gets of many ids are being looked up already")
        while store.engine.hasSlicedWork { store.engine.advanceSlicedWork() }
        let location = ObjectLocation(offset: 0, dataSize: 8, metadataSize: 0)
        let answer = [location] + [ObjectLocation?](repeating: nil, count: 9)
        #expect(store.observer.take() == [.get(reader, 5, .success(answer)), .get(reader, 6, .success(answer))])
        #expect(store.engine.checkInvariants())
    }
}

extension GetOutcome {
    /// The refusal's status, nil when the get was answered or waits.
    var refusal: PlasmaStatus? {
        if case .failed(let error) = self { return error.status }
        return nil
    }
}
