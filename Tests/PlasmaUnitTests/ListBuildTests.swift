import PlasmaCore
import PlasmaEngine
@testable import PlasmaStore
import PlasmaTestSupport
import PlasmaWire
import Testing

/// A `list` built a slice at a time (ListBuild.swift) while objects come and go between slices: the
/// snapshot semantics docs/PROTOCOL.md gives.
@Suite struct ListBuildTests {
    func ids(_ count: Int, _ random: inout SeededRandom) -> [ObjectID] { (0..<count).map { _ in .random(using: &random) } }

    /// The reply a finished build encoded, decoded.
    func listed(_ build: ListBuild) throws -> [ObjectInfo] {
        let frame = build.frame.buffer
        return try frame.withUnsafeBytes { raw in
            guard let header = try FrameHeader.decode(raw, maxPayload: .max) else { throw WireError.invalidValue("not a list reply") }
            #expect(header.requestID == 7 && FrameHeader.size + header.payloadLength == raw.count)
            guard case .list(let infos) = try Reply.decode(type: header.type, payload: UnsafeRawBufferPointer(rebasing: raw[FrameHeader.size...]))
            else { throw WireError.invalidValue("not a list reply") }
            return infos
        }
    }

    func build(_ harness: EngineHarness, between: (Int) -> Void = { _ in }) -> ListBuild {
        let build = ListBuild(requestID: 7, endSlot: harness.engine.tableSlotCount)
        var slices = 0
        while !build.isDone {
            #expect(build.advance(limit: ListBuild.sliceObjects, engine: harness.engine) <= ListBuild.sliceObjects)
            slices += 1
            between(slices)
        }
        return build
    }

    @Test func onAQuietTableTheReplyIsTheOneThatIsBuiltAtOnce() throws {
        let harness = EngineHarness(capacity: 1 << 20)
        let client = harness.connect()
        var random = SeededRandom(seed: 13_1001)
        let all = ids(3_000, &random)
        for (index, id) in all.enumerated() {
            harness.clock.advance(nanoseconds: 1_000)
            #expect(harness.createAndSeal(id, data: [1], from: client)?.status == .ok)
            if index % 3 == 0, index < 1_500 { #expect(harness.delete([id], from: client)?.status == .ok) }
        }
        // Freed slots are reused by later objects: slot order is no longer creation order.
        for id in ids(400, &random) {
            harness.clock.advance(nanoseconds: 1_000)
            #expect(harness.createAndSeal(id, data: [2], from: client)?.status == .ok)
        }
        let atOnce = harness.list(from: client)
        let built = try listed(build(harness))
        #expect(built == atOnce)
        #expect(built.count == 3_000 - 500 + 400)
        harness.expectConsistent()
    }

    @Test func objectsPresentThroughoutAreListedOnceInCreationOrderWhateverComesAndGoes() throws {
        let harness = EngineHarness(capacity: 1 << 20)
        let client = harness.connect()
        var random = SeededRandom(seed: 13_1002)
        let first = ids(4_000, &random)
        for id in first {
            harness.clock.advance(nanoseconds: 1_000)
            #expect(harness.createAndSeal(id, data: [1], from: client)?.status == .ok)
        }
        // Slots 0..<4000 in creation order; the build walks them 1,024 at a time. After the first slice,
        // delete objects behind and ahead of its cursor and create new ones (reusing those slots).
        let deletedMeanwhile = Array(first[100..<200]) + Array(first[3_000..<3_100])
        let createdMeanwhile = ids(150, &random)
        let built = try listed(build(harness) { slice in
            guard slice == 1 else { return }
            #expect(harness.delete(deletedMeanwhile, from: client)?.status == .ok)
            for id in createdMeanwhile {
                harness.clock.advance(nanoseconds: 1_000)
                #expect(harness.createAndSeal(id, data: [3], from: client)?.status == .ok)
            }
        })
        let listedIDs = built.map(\.id)
        #expect(Set(listedIDs).count == listedIDs.count, "no object twice")
        let throughout = Set(first).subtracting(deletedMeanwhile)
        #expect(throughout.isSubset(of: Set(listedIDs)), "every object present from start to end")
        #expect(Set(listedIDs).isDisjoint(with: deletedMeanwhile), "deleted before its row was encoded: left out")
        #expect(Set(listedIDs).subtracting(throughout).isSubset(of: Set(createdMeanwhile)), "nothing else")
        #expect(built.map(\.createdAtNanoseconds) == built.map(\.createdAtNanoseconds).sorted(), "oldest first")
        harness.expectConsistent()
    }
}
