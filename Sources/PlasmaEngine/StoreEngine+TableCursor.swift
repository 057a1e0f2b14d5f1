import PlasmaCore

/// The object table a slice of slots at a time, for work the server spreads over loop passes (a `list`
/// of 100,000 objects took 50–60 ms of the single loop thread in one go). Without a spill store a present object never changes slot, so a cursor walking slots in
/// order meets every object present from its start to its end exactly once; objects created or deleted
/// meanwhile may be met or not. With a spill store, objects move between the table and the spill store
/// (and back into another slot), so such a cursor could miss or repeat them: callers then take
/// everything at once (`canWalkInSlices` is false).
extension StoreEngine {
    /// Whether a walk over table slots in slices sees each object present throughout exactly once
    /// (false with a spill store, where objects move).
    public var canWalkInSlices: Bool { external == nil }

    /// The end of a walk that begins now: slots past it hold only objects created after it began.
    public var tableSlotCount: Int { objects.slotCount }

    /// A row of the table as a walk sees it: the object's list row and what tells it apart from a later
    /// object in the same slot.
    public struct SlotRow: Sendable {
        /// The object's list row as it is now.
        public var info: ObjectInfo
        /// The digest given at seal, 0 for none.
        public var digest: UInt64
        /// When it was created (monotonic clock): with its slot, it names this object and no later one.
        public var createdAtMonotonicNanoseconds: UInt64

        /// When it was sealed (the engine's monotonic clock, read at the seal); nil while unsealed.
        public var sealedAtMonotonicNanoseconds: UInt64? {
            guard info.state == .sealed, info.sealDurationNanoseconds >= 0 else { return nil }
            return createdAtMonotonicNanoseconds &+ UInt64(info.sealDurationNanoseconds)
        }
    }

    /// Calls `body` for each object in `slots` (free slots skipped).
    public func forEachObject(inSlots slots: Range<Int>, _ body: (_ slot: Int, _ row: SlotRow) -> Void) {
        for slot in slots {
            guard let record = objects.record(inSlot: slot) else { continue }
            body(slot, SlotRow(info: record.info, digest: record.digest, createdAtMonotonicNanoseconds: record.createdAtMonotonicNanoseconds))
        }
    }

    /// The object in `slot` if it is still the one created at `createdAtMonotonicNanoseconds`.
    public func object(inSlot slot: Int, createdAt createdAtMonotonicNanoseconds: UInt64) -> SlotRow? {
        guard let record = objects.record(inSlot: slot), record.createdAtMonotonicNanoseconds == createdAtMonotonicNanoseconds
        else { return nil }
        return SlotRow(info: record.info, digest: record.digest, createdAtMonotonicNanoseconds: record.createdAtMonotonicNanoseconds)
    }
}
