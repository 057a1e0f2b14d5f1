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
        for slot in stride(from: Int32(0), to: 40, by: 3) { index.remove(sameTag) { $0 == slot } }
        for slot in Int32(0)..<40 {
            let found = index.find(sameTag) { $0 == slot }
            #expect((found != nil) == (slot % 3 != 0))
        }
        #expect(index.count == 40 - 14)
    }

    /// The index grows a few buckets per change (SlotIndex.swift): entries added and removed while the
    /// old table drains, in it or already moved, stay found exactly as a dictionary model says, through
    /// several growths; the drain ends before the next growth.
    @Test func entriesStayFoundWhileTheIndexGrowsInSteps() {
        var index = SlotIndex()
        var model: [Int: Int32] = [:]  // hash -> slot
        var hashes: [Int] = []  // model's keys, to remove one at random
        var random = SeededRandom(seed: 13)
        var sawDraining = false
        var nextSlot: Int32 = 0
        for round in 0..<200_000 {
            if hashes.isEmpty || random.next() % 4 != 0 {
                // Home buckets only every 16th: long clusters, so removals shift entries back.
                let hash = Int(truncatingIfNeeded: random.next() & ~(0xF << 32))
                guard model[hash] == nil else { continue }
                index.insert(nextSlot, hash: hash)
                model[hash] = nextSlot
                hashes.append(hash)
                nextSlot += 1
            } else {
                let position = Int(random.next() % UInt64(hashes.count))
                hashes.swapAt(position, hashes.count - 1)
                let hash = hashes.removeLast()
                let slot = model.removeValue(forKey: hash)!
                index.remove(hash) { $0 == slot }
            }
            sawDraining = sawDraining || index.isDraining
            if round % 20_000 == 0 || (index.isDraining && round % 997 == 0) {
                for (hash, slot) in model { #expect(index.find(hash) { $0 == slot } == slot) }
            }
        }
        #expect(sawDraining, "the test went through growths")
        #expect(index.count == model.count)
        for (hash, slot) in model { #expect(index.find(hash) { $0 == slot } == slot) }
    }

    /// A copy of the index is a value: changing one leaves the other as it was, even mid-growth.
    @Test func aCopiedIndexIsAValue() {
        var index = SlotIndex()
        var slot: Int32 = 0
        while !index.isDraining {
            index.insert(slot, hash: Int(slot) << 32 | Int(slot))
            slot += 1
        }
        let copy = index
        index.insert(slot, hash: Int(slot) << 32 | Int(slot))
        index.remove(0) { $0 == 0 }
        #expect(copy.find(0) { $0 == 0 } == 0)
        #expect(copy.find(Int(slot) << 32 | Int(slot)) { $0 == slot } == nil)
        #expect(index.find(0) { $0 == 0 } == nil)
        #expect(copy.count == Int(slot) && index.count == Int(slot))
    }
}
