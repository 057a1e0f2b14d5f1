import PlasmaCore
import PlasmaEngine
import Testing

/// A first-fit allocator in plain Swift, so that engine tests need none of the server's C: 64-byte
/// units like the real one, free blocks merged with their neighbours.
final class TestArenaAllocator: ArenaAllocator {
    private let size: Int
    /// Free ranges, sorted by offset, never adjacent.
    private var free: [(offset: Int, size: Int)]
    private var allocated: [UInt32: (offset: Int, size: Int)] = [:]
    private var nextHandle: UInt32 = 0

    init(size: Int) {
        self.size = size / 64 * 64
        free = self.size > 0 ? [(0, self.size)] : []
    }

    func allocate(_ size: Int) -> ArenaBlock? {
        let rounded = max(1, (size + 63) / 64) * 64
        guard let index = free.firstIndex(where: { $0.size >= rounded }) else { return nil }
        let offset = free[index].offset
        if free[index].size == rounded { free.remove(at: index) } else { free[index] = (offset + rounded, free[index].size - rounded) }
        let handle = nextHandle
        nextHandle += 1
        allocated[handle] = (offset, rounded)
        return ArenaBlock(offset: offset, handle: handle)
    }

    @discardableResult
    func free(_ block: ArenaBlock) -> Bool {
        guard let range = allocated[block.handle], range.offset == block.offset else { return false }
        allocated[block.handle] = nil
        let index = free.firstIndex { $0.offset > range.offset } ?? free.count
        free.insert(range, at: index)
        if index + 1 < free.count, free[index].offset + free[index].size == free[index + 1].offset {
            free[index].size += free.remove(at: index + 1).size
        }
        if index > 0, free[index - 1].offset + free[index - 1].size == free[index].offset {
            free[index - 1].size += free.remove(at: index).size
        }
        return true
    }

    var statistics: ArenaAllocatorStatistics {
        ArenaAllocatorStatistics(
            size: size, freeBytes: free.reduce(0) { $0 + $1.size }, largestFreeBlock: free.map(\.size).max() ?? 0,
            allocatedBlocks: allocated.count, freeBlocks: free.count, metadataBytes: 0)
    }

    func checkInvariants() -> Bool {
        let total = free.reduce(0) { $0 + $1.size } + allocated.values.reduce(0) { $0 + $1.size }
        return total == size && zip(free, free.dropFirst()).allSatisfy { $0.offset + $0.size < $1.offset }
    }
}

/// A spill sink that keeps bytes in a dictionary and records what it was asked; can be told to refuse,
/// and to hold spills in flight until the test completes them (`holdSpills`, `complete`), as the
/// server's writer thread would: the bytes are read from the arena only when a spill completes.
final class RecordingSpillSink: SpillSink {
    private(set) var stored: [ObjectID: [UInt8]] = [:]
    private(set) var spills: [ObjectID] = []
    private(set) var restores: [ObjectID] = []
    private(set) var discards: [ObjectID] = []
    var refuse: Set<ObjectID> = []
    /// Spills wait for `complete`; false: they finish at once.
    var holdSpills = false
    private var begun: [(ticket: UInt64, id: ObjectID, bytes: UnsafeRawBufferPointer, discarded: Bool)] = []
    private var finished: [SpillCompletion] = []

    /// The ids of the spills begun and not completed, in order.
    var inFlight: [ObjectID] { begun.map(\.id) }

    func beginSpill(_ id: ObjectID, _ bytes: UnsafeRawBufferPointer, dataSize: Int, ticket: UInt64) {
        begun.append((ticket, id, bytes, false))
        if !holdSpills { complete() }
    }

    /// Completes the spills in flight of `id` (every one when nil), reading their bytes now.
    func complete(_ id: ObjectID? = nil) {
        let now = begun.filter { id == nil || $0.id == id }
        begun.removeAll { id == nil || $0.id == id }
        for spill in now {
            guard !refuse.contains(spill.id) else {
                finished.append(SpillCompletion(ticket: spill.ticket, succeeded: false))
                continue
            }
            spills.append(spill.id)
            if !spill.discarded { stored[spill.id] = Array(spill.bytes) }  // a discard after it removes the copy
            finished.append(SpillCompletion(ticket: spill.ticket, succeeded: true))
        }
    }

    func finishedSpills(waitingForAll: Bool) -> [SpillCompletion] {
        if waitingForAll {
            complete()
            completeRestores()
        }
        defer { finished.removeAll() }
        return finished
    }

    func restore(_ id: ObjectID, into buffer: UnsafeMutableRawBufferPointer, dataSize: Int) -> Bool {
        guard let bytes = stored.removeValue(forKey: id), bytes.count == buffer.count else { return false }
        restores.append(id)
        bytes.withUnsafeBytes { if $0.count > 0 { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        return true
    }

    /// Restores wait for `completeRestores`; false: they finish at once.
    var holdRestores = false
    private var reading: [(ticket: UInt64, id: ObjectID, buffer: UnsafeMutableRawBufferPointer)] = []

    /// The ids of the restores begun and not completed, in order.
    var restoresInFlight: [ObjectID] { reading.map(\.id) }

    func beginRestore(_ id: ObjectID, into buffer: UnsafeMutableRawBufferPointer, dataSize: Int, ticket: UInt64) {
        reading.append((ticket, id, buffer))
        if !holdRestores { completeRestores() }
    }

    /// Completes every restore in flight, copying the bytes in now.
    func completeRestores() {
        let now = reading
        reading.removeAll()
        for read in now {
            finished.append(SpillCompletion(ticket: read.ticket, succeeded: restore(read.id, into: read.buffer, dataSize: 0)))
        }
    }

    /// What the engine said of each write it stopped or started needing again, in order.
    private(set) var needed: [Bool] = []
    func spillNeeded(_ needed: Bool, ticket: UInt64) { self.needed.append(needed) }

    func discard(_ id: ObjectID) {
        discards.append(id)
        stored[id] = nil
        for index in begun.indices where begun[index].id == id { begun[index].discarded = true }
    }
}

/// Everything the engine emitted later, in order.
final class RecordingObserver: EngineObserver {
    enum Emission: Equatable {
        case get(ClientID, UInt64, Result<[ObjectLocation?], EngineError>)
        case create(ClientID, UInt64, sealing: Bool, Result<CreateOutcome, EngineError>)
        case event(SubscriptionKey, ObjectEvent)
        case spilled(ObjectID, Int)
        case restored(ObjectID, Int)
    }

    private(set) var emissions: [Emission] = []

    func getAnswered(client: ClientID, ticket: UInt64, _ answer: Result<[ObjectLocation?], EngineError>) {
        emissions.append(.get(client, ticket, answer))
    }

    func createAnswered(client: ClientID, ticket: UInt64, sealing: Bool, _ answer: Result<CreateOutcome, EngineError>) {
        emissions.append(.create(client, ticket, sealing: sealing, answer))
    }

    func deliver(_ event: ObjectEvent, to subscription: SubscriptionKey) { emissions.append(.event(subscription, event)) }
    func spilled(_ id: ObjectID, bytes: Int) { emissions.append(.spilled(id, bytes)) }
    func restored(_ id: ObjectID, bytes: Int) { emissions.append(.restored(id, bytes)) }

    /// Takes what was emitted so far.
    func take() -> [Emission] {
        defer { emissions.removeAll() }
        return emissions
    }
}

/// `PlasmaEngine` alone: a heap arena, the Swift allocator, a hand-moved clock, the recording observer,
/// optionally a recording spill sink. No server code, no wire types.
final class LoneEngine {
    let clock = TestClock()
    let observer = RecordingObserver()
    let memory: UnsafeMutableRawBufferPointer
    let engine: StoreEngine

    /// `configure` adjusts the engine's configuration (limits, slice sizes) before it starts.
    init(capacity: Int, spillSink: SpillSink? = nil, configure: (inout StoreEngine.Configuration) -> Void = { _ in }) {
        let size = (capacity + 63) / 64 * 64
        memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 64), alignment: 64)
        memory.initializeMemory(as: UInt8.self, repeating: 0)
        var configuration = StoreEngine.Configuration(capacity: capacity)
        configure(&configuration)
        engine = StoreEngine(
            configuration: configuration,
            memory: UnsafeMutableRawBufferPointer(rebasing: memory[0..<size]),
            allocator: TestArenaAllocator(size: size), clock: clock, spillSink: spillSink)
        engine.observer = observer
    }

    deinit { memory.deallocate() }

    /// Two 512-byte objects fill a 1024-byte store whose sink holds its spills; a third create (waiting
    /// `timeout`) then begins spilling testID(1). `configure` as for `init`.
    static func withSpillInFlight(
        timeout: Int64 = 0, configure: (inout StoreEngine.Configuration) -> Void = { _ in }
    ) -> (LoneEngine, RecordingSpillSink, ClientID) {
        let sink = RecordingSpillSink()
        sink.holdSpills = true
        let store = LoneEngine(capacity: 1024, spillSink: sink, configure: configure)
        let client = store.engine.connect()
        #expect(store.put(testID(1), size: 512, byte: 0xA1, by: client))
        #expect(store.put(testID(2), size: 512, byte: 0xB2, by: client))
        let third = InlineObject(id: testID(3), data: [UInt8](repeating: 0xC3, count: 512))
        #expect(store.engine.createAndSeal(third, timeoutMilliseconds: timeout, client: client, ticket: 3) == .waiting,
                "waits for the room being written out, even with timeout 0")
        #expect(sink.inFlight == [testID(1)] && store.engine.spillsInFlight == 1)
        return (store, sink, client)
    }

    /// create-and-seal of `size` bytes of `byte`, expected to succeed.
    func put(_ id: ObjectID, size: Int, byte: UInt8 = 1, by client: ClientID) -> Bool {
        engine.createAndSeal(InlineObject(id: id, data: [UInt8](repeating: byte, count: size)),
                             timeoutMilliseconds: 0, client: client, ticket: 0) == .sealed
    }
}
