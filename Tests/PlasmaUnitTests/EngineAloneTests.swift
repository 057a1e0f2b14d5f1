import PlasmaCore
import PlasmaEngine
import Testing

/// `PlasmaEngine` driven alone through its commands (EngineFakes.swift: fake clock, Swift allocator,
/// recording observer and spill sink): typed outcomes, what the observer hears, deterministic timeouts.
@Suite struct EngineAloneTests {
    @Test func createSealGetWithTypedOutcomes() {
        let store = LoneEngine(capacity: 4096)
        let writer = store.engine.connect()
        let reader = store.engine.connect()
        guard case .created(let location) = store.engine.create(testID(1), dataSize: 100, metadataSize: 8, timeoutMilliseconds: 0, client: writer, ticket: 1)
        else { Issue.record("create failed"); return }
        #expect(location.offset % 64 == 0 && location.dataSize == 100 && location.metadataSize == 8)
        #expect(store.engine.get([testID(1)], timeoutMilliseconds: 0, client: reader, ticket: 1) == .answered([nil]), "not sealed yet")
        #expect(store.engine.seal(testID(1), digest: 42, client: reader) .failureStatus == .notCreator)
        #expect((try? store.engine.seal(testID(1), digest: 42, client: writer).get()) != nil)
        #expect(store.engine.get([testID(1)], timeoutMilliseconds: 0, client: reader, ticket: 2) == .answered([location]))
        #expect(store.engine.digest(of: testID(1)) == 42)
        #expect(store.engine.release(testID(1), client: reader) == .ok)
        #expect(store.engine.release(testID(1), client: reader) == .notHeld)
        #expect(store.observer.take().isEmpty, "everything was answered by the commands themselves")
        #expect(store.engine.checkInvariants())
    }

    @Test func aWaitingGetIsAnsweredThroughTheObserverAtTheSealOrTheDeadline() {
        let store = LoneEngine(capacity: 4096)
        let writer = store.engine.connect()
        let reader = store.engine.connect()
        #expect(store.engine.get([testID(1)], timeoutMilliseconds: -1, client: reader, ticket: 7) == .waiting)
        #expect(store.engine.get([testID(1), testID(2)], timeoutMilliseconds: 50, client: reader, ticket: 8) == .waiting)
        #expect(store.engine.nextDeadline == store.clock.monotonicNanoseconds() + 50_000_000)
        #expect(store.put(testID(1), size: 10, by: writer))
        let location = ObjectLocation(offset: 0, dataSize: 10, metadataSize: 0)
        #expect(store.observer.take() == [.get(reader, 7, .success([location]))], "ticket 8 still waits for testID(2)")
        store.clock.advance(milliseconds: 49)
        store.engine.fireDeadlines()
        #expect(store.observer.take().isEmpty)
        store.clock.advance(milliseconds: 1)
        store.engine.fireDeadlines()
        #expect(store.observer.take() == [.get(reader, 8, .success([location, nil]))], "a partial answer at the deadline")
        #expect(store.engine.statistics.pendingGets == 0)
        #expect(store.engine.checkInvariants())
    }

    @Test func aWaitingCreateIsServedWhenSpaceFreesAndCancelIsAnsweredCancelled() {
        let store = LoneEngine(capacity: 1024)
        let holder = store.engine.connect()
        let writer = store.engine.connect()
        guard case .created = store.engine.create(testID(1), dataSize: 1024, metadataSize: 0, timeoutMilliseconds: 0, client: holder, ticket: 1)
        else { Issue.record("create failed"); return }
        #expect(store.engine.create(testID(2), dataSize: 512, metadataSize: 0, timeoutMilliseconds: -1, client: writer, ticket: 5) == .waiting)
        #expect(store.engine.createAndSeal(InlineObject(id: testID(3), data: [1]), timeoutMilliseconds: -1, client: writer, ticket: 6) == .waiting)
        store.engine.cancel(client: writer, ticket: 6)
        #expect(store.observer.take() == [.create(writer, 6, sealing: true, .failure(EngineError(.cancelled)))])
        #expect(store.engine.abort(testID(1), client: holder).failureStatus == nil)
        let emitted = store.observer.take()
        #expect(emitted.contains(.create(writer, 5, sealing: false, .success(.created(ObjectLocation(offset: 0, dataSize: 512, metadataSize: 0))))))
        #expect(store.engine.checkInvariants())
    }

    @Test func subscribersHearSealsAndRemovalsWithTheirReason() {
        let store = LoneEngine(capacity: 1024)
        let client = store.engine.connect()
        let key = SubscriptionKey(client: client, subscriptionID: 3)
        #expect(store.engine.subscribe(key, filter: .all).failureStatus == nil)
        #expect(store.put(testID(1), size: 8, by: client))
        #expect(store.engine.delete(testID(1)) == .deleted)
        guard case .created = store.engine.create(testID(2), dataSize: 8, metadataSize: 0, timeoutMilliseconds: 0, client: client, ticket: 1)
        else { Issue.record("create failed"); return }
        _ = store.engine.abort(testID(2), client: client)
        #expect(store.observer.take() == [
            .event(key, .sealed(testID(1), dataSize: 8, metadataSize: 0)), .event(key, .deleted(testID(1))),
            .event(key, .aborted(testID(2))),
        ])
        #expect(store.engine.unsubscribe(key).failureStatus == nil)
        #expect(store.engine.unsubscribe(key) .failureStatus == .objectNotFound)
    }

    @Test func deleteOutcomesAndADeleteDeferredUntilTheSeal() {
        let store = LoneEngine(capacity: 4096)
        let client = store.engine.connect()
        #expect(store.engine.delete(testID(9)) == .notFound)
        guard case .created = store.engine.create(testID(1), dataSize: 8, metadataSize: 0, timeoutMilliseconds: 0, client: client, ticket: 1)
        else { Issue.record("create failed"); return }
        #expect(store.engine.delete(testID(1)) == .notSealed)
        #expect(store.engine.delete(testID(1), deferringUnsealed: true) == .deferredUntilSealed)
        _ = store.engine.seal(testID(1), client: client)
        #expect(store.engine.delete(testID(1)) == .deferredUntilReleased, "the creator still holds it")
        #expect(store.engine.release(testID(1), client: client) == .ok)
        #expect(!store.engine.contains(testID(1)))
        #expect(store.engine.checkInvariants())
    }

    @Test func theSpillSinkGetsEvictedBytesAndGivesThemBackOnGet() {
        let sink = RecordingSpillSink()
        let store = LoneEngine(capacity: 1024, spillSink: sink)
        let client = store.engine.connect()
        #expect(store.put(testID(1), size: 512, byte: 0xA1, by: client))
        #expect(store.put(testID(2), size: 512, byte: 0xB2, by: client))
        #expect(store.put(testID(3), size: 512, byte: 0xC3, by: client), "spills testID(1), the least recently used")
        #expect(sink.spills == [testID(1)] && sink.stored[testID(1)] == [UInt8](repeating: 0xA1, count: 512))
        #expect(store.observer.take() == [.spilled(testID(1), 512)])
        #expect(store.engine.contains(testID(1)) && store.engine.objectSnapshots().contains { $0.info.id == testID(1) && $0.isSpilled })
        guard case .answered(let found) = store.engine.get([testID(1)], timeoutMilliseconds: 0, client: client, ticket: 1),
              let location = found.first ?? nil
        else { Issue.record("the spilled object did not come back"); return }
        #expect(store.memory[location.offset] == 0xA1 && store.memory[location.offset + 511] == 0xA1)
        #expect(sink.restores == [testID(1)] && sink.spills == [testID(1), testID(2)], "made room by spilling the next")
        #expect(store.observer.take() == [.spilled(testID(2), 512), .restored(testID(1), 512)])
        #expect(store.engine.delete(testID(2)) == .deleted && sink.discards == [testID(2)])
        let statistics = store.engine.statistics
        #expect(statistics.spilledObjects == 0 && statistics.restoredObjects == 1 && statistics.deletedObjects == 1)
        #expect(store.engine.checkInvariants())
    }

    @Test func aRefusedSpillDropsTheObject() {
        let sink = RecordingSpillSink()
        sink.refuse = [testID(1)]
        let store = LoneEngine(capacity: 1024, spillSink: sink)
        let client = store.engine.connect()
        for seed in 1...3 { #expect(store.put(testID(UInt8(seed)), size: 512, by: client)) }
        #expect(!store.engine.contains(testID(1)) && store.engine.statistics.spillFailures == 1)
        #expect(store.observer.take().isEmpty, "no subscriber, nothing spilled")
    }

    @Test func oneReferencePerObjectPolicyAndImmediateCreatesEvictInBulk() {
        let store = LoneEngine(capacity: 10_000)
        let client = store.engine.connect(references: .atMostOnePerObject)
        for seed in 1...10 {
            #expect(store.engine.createAndSealImmediately(InlineObject(id: testID(UInt8(seed)), data: [UInt8](repeating: 1, count: 900)),
                                                         digest: 0, evictIfFull: true, client: client).failureStatus == nil)
        }
        _ = store.engine.get([testID(10), testID(10)], timeoutMilliseconds: 0, client: client, ticket: 1)
        _ = store.engine.get([testID(10)], timeoutMilliseconds: 0, client: client, ticket: 2)
        #expect(store.engine.objectSnapshots().first { $0.info.id == testID(10) }?.info.referenceCount == 1)
        // 9 000 used, 1 500 more: 500 short, but a fifth of the capacity (2 000: three objects) goes.
        guard case .success = store.engine.createImmediately(testID(50), dataSize: 1_500, metadataSize: 0, evictIfFull: true, client: client)
        else { Issue.record("create failed"); return }
        #expect((1...10).filter { store.engine.contains(testID(UInt8($0))) } == Array(4...10))
        // Without evictIfFull nothing is evicted: 7 800 used, 3 000 more don't fit.
        #expect(store.engine.createImmediately(testID(51), dataSize: 3_000, metadataSize: 0, evictIfFull: false, client: client)
                .failureStatus == .outOfMemory)
        #expect((1...10).filter { store.engine.contains(testID(UInt8($0))) } == Array(4...10))
        #expect(store.engine.createImmediately(testID(50), dataSize: 1, metadataSize: 0, evictIfFull: true, client: client)
                .failureStatus == .objectExists)
        #expect(store.engine.checkInvariants())
    }

    @Test func grantedQuotasLeaveTheReserveAndReturnWhenTheClientLeaves() {
        let store = LoneEngine(capacity: 100_000)
        let first = store.engine.connect()
        let second = store.engine.connect()
        #expect(store.engine.grantQuota(50_000, to: first, leaving: 0.3))
        #expect(!store.engine.grantQuota(1, to: first, leaving: 0.3), "once per client")
        #expect(!store.engine.grantQuota(20_001, to: second, leaving: 0.3))
        #expect(store.engine.grantQuota(20_000, to: second, leaving: 0.3))
        #expect(store.engine.grantedQuotas.total == 70_000)
        store.engine.disconnect(first)
        #expect(store.engine.grantedQuotas.total == 20_000 && store.engine.grantedQuotas.byClient.map(\.client) == [second])
    }
}

extension Result where Failure == EngineError {
    /// The failure's status, nil on success.
    var failureStatus: PlasmaStatus? {
        if case .failure(let error) = self { return error.status }
        return nil
    }
}
