import HeapModule
import PlasmaCore
import PlasmaEngine
import PlasmaWire

/// A native `list` reply assembled a slice at a time, so that listing 100,000 objects (50–60 ms of the
/// loop thread in one go) never holds the loop for more than a slice (issue 13).
///
/// Two phases, each a bounded number of objects per call to `advance`:
/// - **collect**: walk the object table's slots in order (StoreEngine+TableCursor.swift) up to the slot
///   count at the start, keeping for each object its creation times and slot (24 bytes), each slice
///   sorted by creation time as it is taken: a sorted run, an array of its own (one array for all
///   entries doubled in one slice: at a million objects, 24 MB copied into new pages, 20–35 ms of
///   the loop under `plasma-bench hostile`);
/// - **emit**: merge the runs (a heap of run heads) and encode, for each object still in its slot, its
///   row as it is now, into the reply frame.
///
/// What the reply holds (documented in docs/PROTOCOL.md): every object present from the list's start
/// to its end, exactly once, oldest creation time first; an object created or deleted meanwhile may be
/// in it or not; each row shows the object as it was when its entry was encoded. This needs objects
/// never to change slot while present, true without a spill store; with one the list is built at once.
final class ListBuild {
    /// Objects (slots) collected or entries emitted per slice, at most (a loop pass's budget decides
    /// how many: StoreServer+DeferredWork.swift).
    static let sliceObjects = 1_024

    struct Entry {
        var createdAtWall: Int64
        var createdAtMonotonic: UInt64
        var slot: Int32

        func precedes(_ other: Entry) -> Bool {
            (createdAtWall, createdAtMonotonic) < (other.createdAtWall, other.createdAtMonotonic)
        }
    }

    /// A run's next entry, in the merge's heap: oldest first (the run number breaks ties).
    struct RunHead: Comparable {
        var entry: Entry
        var run: Int

        static func < (lhs: RunHead, rhs: RunHead) -> Bool {
            (lhs.entry.createdAtWall, lhs.entry.createdAtMonotonic, lhs.run)
                < (rhs.entry.createdAtWall, rhs.entry.createdAtMonotonic, rhs.run)
        }

        static func == (lhs: RunHead, rhs: RunHead) -> Bool {
            (lhs.entry.createdAtWall, lhs.entry.createdAtMonotonic, lhs.run)
                == (rhs.entry.createdAtWall, rhs.entry.createdAtMonotonic, rhs.run)
        }
    }

    let requestID: UInt64
    /// Each row carries its extension (origin), as a `listWithOrigins` asked.
    private let origins: Bool
    /// The table's slot count when the list began: later slots hold only objects created since.
    private let endSlot: Int
    private var nextSlot = 0
    /// The sorted runs, one per slice collected.
    private var runs: [[Entry]] = []
    /// Entries collected, and the capacity of the runs' arrays (for `heldBytes`).
    private var entryCount = 0
    private var runCapacity = 0
    /// Emit phase: each run's next position, and the runs with entries left, by their next entry (at
    /// most one head per run).
    private var runPositions: [Int] = []
    private var heap = Heap<RunHead>()
    private var emitting = false
    private(set) var isDone = false
    /// The reply frame being assembled; whole once `isDone`.
    private(set) var frame = ByteWriter()
    private var countOffset = 0
    private var emitted: UInt32 = 0

    init(requestID: UInt64, endSlot: Int, origins: Bool = false) {
        self.requestID = requestID
        self.endSlot = endSlot
        self.origins = origins
    }

    /// Heap this build holds (charged to the client-state budget as reply bytes).
    var heldBytes: Int {
        runCapacity * MemoryLayout<Entry>.stride + frame.buffer.capacity
            + runs.capacity * MemoryLayout<[Entry]>.stride + runPositions.capacity * MemoryLayout<Int>.stride
            + runs.count * MemoryLayout<RunHead>.stride  // the heap: one head per run at most
    }

    /// Does at most `limit` objects' worth of work (at least one); returns how many it did.
    func advance(limit: Int, engine: StoreEngine) -> Int {
        emitting ? emit(limit: max(1, limit), engine: engine) : collect(limit: max(1, limit), engine: engine)
    }

    private func collect(limit: Int, engine: StoreEngine) -> Int {
        let slots = nextSlot..<min(endSlot, nextSlot + limit)
        var run: [Entry] = []  // not reserved for the whole slice: a sparse table's slice holds few
        engine.forEachObject(inSlots: slots) { slot, row in
            run.append(Entry(createdAtWall: row.info.createdAtNanoseconds,
                             createdAtMonotonic: row.createdAtMonotonicNanoseconds, slot: Int32(slot)))
        }
        if !run.isEmpty {
            run.sort { $0.precedes($1) }
            entryCount += run.count
            runCapacity += run.capacity
            runs.append(run)
        }
        nextSlot = slots.upperBound
        if nextSlot >= endSlot { beginEmitting() }
        return max(1, slots.count)
    }

    private func beginEmitting() {
        emitting = true
        frame.buffer.reserveCapacity(FrameHeader.size + 6 + entryCount * Reply.encodedObjectInfoSize)
        FrameHeader(type: MessageType.list.replyType, requestID: requestID, payloadLength: 0).encode(into: &frame)
        frame.append(PlasmaStatus.ok.rawValue)
        countOffset = frame.buffer.count
        frame.append(UInt32(0))  // patched at the end: objects deleted meanwhile are left out
        runPositions = [Int](repeating: 0, count: runs.count)
        heap = Heap(runs.indices.compactMap(nextHead(of:)))
        if heap.isEmpty { finish() }
    }

    private func emit(limit: Int, engine: StoreEngine) -> Int {
        var done = 0
        while done < limit, let head = heap.popMin() {
            let entry = head.entry
            runPositions[head.run] += 1
            if let next = nextHead(of: head.run) {
                heap.insert(next)
            } else {  // merged whole: its memory goes while the frame grows
                runCapacity -= runs[head.run].capacity
                runs[head.run] = []
                runPositions[head.run] = 0
            }
            done += 1
            // Deleted meanwhile (or its slot holds a newer object): left out.
            guard let row = engine.object(inSlot: Int(entry.slot), createdAt: entry.createdAtMonotonic) else { continue }
            Reply.encode(row.info, into: &frame)
            if origins { Reply.encodeExtension(origin: engine.origin(of: row.info.id), into: &frame) }
            emitted += 1
        }
        if heap.isEmpty { finish() }
        return max(1, done)
    }

    private func finish() {
        let count = origins ? emitted | Reply.listRowsCarryExtension : emitted
        frame.buffer.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: count.littleEndian, toByteOffset: countOffset, as: UInt32.self)
        }
        FrameHeader.patchLength(in: &frame.buffer, frameStart: 0)
        runs = []
        (entryCount, runCapacity) = (0, 0)
        runPositions = []
        heap = Heap()
        isDone = true
    }

    /// The entry `run` merges next, if it has one left.
    private func nextHead(of run: Int) -> RunHead? {
        runPositions[run] < runs[run].count ? RunHead(entry: runs[run][runPositions[run]], run: run) : nil
    }
}
