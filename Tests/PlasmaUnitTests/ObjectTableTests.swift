import PlasmaCore
import PlasmaTestSupport
import Testing

@testable import PlasmaEngine
@testable import PlasmaStore


@Suite struct ObjectTableTests {
    private func record(_ id: ObjectID, size: Int = 64) -> ObjectRecord {
        ObjectRecord(
            id: id, state: .sealed, block: nil, dataSize: size, metadataSize: 0, creator: ClientID(rawValue: 1),
            createdAtWallNanoseconds: 0, createdAtMonotonicNanoseconds: 0)
    }

    /// The record is most of the store's per-object memory (`plasma-bench scale`): a field added in the
    /// wrong place pads it by 8 bytes per object. Optional adds nothing (the state enum has spare values).
    @Test func aRecordTakes120Bytes() {
        #expect(MemoryLayout<ObjectRecord>.stride == 120)
        #expect(MemoryLayout<ObjectRecord?>.stride == 120)
    }

    @Test func aRecordWithoutABlockHasNone() {
        #expect(record(.random()).block == nil)
        let block = Allocator.Block(offset: 4096, handle: 7)
        let withBlock = ObjectRecord(
            id: .random(), state: .created, block: block, dataSize: 1, metadataSize: 0, creator: ClientID(rawValue: 1),
            createdAtWallNanoseconds: 0, createdAtMonotonicNanoseconds: 0)
        #expect(withBlock.block == block)
        #expect(withBlock.offset == 4096)
    }

    /// Random inserts and removes (through several growths, with slots reused) against a dictionary.
    @Test func theIndexFindsExactlyThePresentIdsThroughGrowthAndChurn() {
        var generator = SeededRandom(seed: 6)
        var table = ObjectTable()
        var model: [ObjectID: Int32] = [:]
        var present: [ObjectID] = []
        var removed: [ObjectID] = []
        for step in 0..<60_000 {
            if present.isEmpty || generator.next() % 3 != 0 {
                let id = ObjectID.random(using: &generator)
                model[id] = table.insert(record(id))
                present.append(id)
            } else {
                let index = Int(generator.next() % UInt64(present.count))
                present.swapAt(index, present.count - 1)
                let id = present.removeLast()
                let slot = model.removeValue(forKey: id)!
                #expect(table.remove(slot).id == id)
                removed.append(id)
            }
            if step % 5000 == 0 {
                #expect(table.count == model.count)
                for (id, slot) in model { #expect(table.slot(of: id) == slot) }
                for id in removed.suffix(200) { #expect(table.slot(of: id) == nil) }
            }
        }
        #expect(table.count == model.count)
        for (id, slot) in model {
            #expect(table.slot(of: id) == slot)
            #expect(table[slot].id == id)
        }
        for id in removed { #expect(table.slot(of: id) == nil) }
        for (_, slot) in model { table.remove(slot) }
        #expect(table.count == 0)
        for id in model.keys.prefix(100) { #expect(table.slot(of: id) == nil) }
    }

    /// Entries whose hashes share their upper 32 bits share a home bucket and a cluster; removing from
    /// the middle of that cluster must keep the rest reachable (backward-shift deletion).
    @Test func removingFromAClusterKeepsTheRestReachable() {
        var index = SlotIndex()
        let sameTag = 0x1234_5678 << 32
        for slot in Int32(0)..<40 { index.insert(slot, hash: sameTag | Int(slot)) }
        for slot in stride(from: Int32(0), to: 40, by: 3) {
            let bucket = index.find(sameTag) { $0 == slot }!.bucket
            index.remove(at: bucket)
        }
        for slot in Int32(0)..<40 {
            let found = index.find(sameTag) { $0 == slot }
            #expect((found != nil) == (slot % 3 != 0))
        }
        #expect(index.count == 40 - 14)
    }
}
