import Foundation
import Glibc
import PlasmaClient
import PlasmaCore

/// One `soak` client process (slot `slot` of `slots`): a blocking and an async connection, and a
/// seeded random mix of every kind of request until the parent closes our stdin. Then it lets go of
/// everything, disconnects and prints "done". Every half second it prints its tally (`SoakTally`);
/// each unexpected outcome is printed at once as "error what" (the first 50 per process).
///
/// Ids: bytes 0-1 are the slot (a prefix that subscriptions use), byte 2 the kind: 0 for the slot's
/// `workingSetPerSlot` reusable ids (bytes 3-6 the index, 7-14 the seed), 1 for fresh one-off ids.
/// Slot 0xFFFF is never written: its ids never exist. Every object's bytes are `fill(id)`, so any
/// reader can check what it got.
final class SoakClient {
    static let role = "__soak-client"
    /// Reusable ids per slot. With the mix below about a fifth of the puts are medium, so an id's object
    /// averages ~80 KB: 32 slots × 512 ids is ~1.3 GB, five times the default soak store, and creates
    /// keep evicting.
    static let workingSetPerSlot = 512
    static let smallSizes = 64...4096
    static let mediumSizes = (64 << 10)...(1 << 20)
    /// Longest a seal may take to reach an await or a subscriber before the soak calls it lost.
    static let deliveryLimit = Duration.seconds(30)
    /// The timeout awaited gets ask the store for: long, as a real client's would be, so that anything a
    /// wait answered early leaves behind until its timeout piles up for the whole run (the store's
    /// deadline heap did, before it was swept). `deliveryLimit` still bounds the wait here.
    static let awaitTimeout = Duration.seconds(3600)
    static let heldLimit = 8

    private let socket: String
    private let slot: Int
    private let slots: Int
    private let seed: UInt64
    private var random: SplitMix64
    private var blocking: PlasmaClient
    private var asyncClient: AsyncPlasmaClient
    /// Buffers kept for a while, so that deletes meet references and eviction meets pinned objects.
    private var held: [ObjectBuffer] = []
    private(set) var tally = SoakTally()
    private var errorsPrinted = 0

    init(socket: String, slot: Int, slots: Int, generation: Int, seed: UInt64) throws {
        (self.socket, self.slot, self.slots, self.seed) = (socket, slot, slots, seed)
        random = SplitMix64(seed: seed ^ UInt64(slot) &* 0x9E37_79B9 ^ UInt64(generation) &* 0xC2B2_AE3D_27D4_EB4F)
        blocking = try PlasmaClient(socketPath: socket, retries: 100)
        asyncClient = try AsyncPlasmaClient(socketPath: socket, retries: 100)
    }

    /// The child's entry point: `socket slot slots generation seed`.
    static func main(_ arguments: [String]) async throws {
        let client = try SoakClient(
            socket: arguments[0], slot: Int(arguments[1])!, slots: Int(arguments[2])!,
            generation: Int(arguments[3])!, seed: UInt64(arguments[4])!)
        let stop = StopFlag()
        let watcher = Thread {
            while ChildSignal.wait() {}
            stop.set()
        }
        watcher.start()
        var reported = ContinuousClock.now
        while !stop.isSet {
            await client.step()
            if ContinuousClock.now - reported > .milliseconds(500) {
                ChildSignal.emit(client.tally.line)
                reported = .now
            }
        }
        client.finish()
        ChildSignal.emit(client.tally.line)
        ChildSignal.emit("done")
    }

    /// One operation of the mix, chosen at random (weights per mille).
    func step() async {
        tally.add(.operations)
        let roll = Int(random.next() % 1000)
        var what = ""
        do {
            switch roll {
            case 0..<200: what = "put inline"; try putInline()
            case 200..<310: what = "put in place"; try putInPlace()
            case 310..<330: what = "put batch"; try putBatch()
            case 330..<580: what = "get"; try getOne()
            case 580..<620: what = "get missing"; try getMissing()
            case 620..<700: what = "delete"; try deleteSome()
            case 700..<790: what = "contains"; try containsOne()
            case 790..<792: what = "list"; _ = try blocking.list(); tally.add(.list)
            case 792..<820: what = "subscribe"; try await subscribeRound()
            case 820..<870: what = "await seal"; try await awaitSeal()
            case 870..<920: what = "await cancel"; try await awaitCancel()
            case 920..<950: what = "await timeout"; try await awaitTimeout()
            case 950..<960: what = "stats"; _ = try blocking.statistics(); tally.add(.stats)
            case 960..<963: what = "evict"; try blocking.evict(Int(pick(Self.mediumSizes))); tally.add(.evict)
            case 963..<966: what = "reconnect"; try reconnect()
            default: what = "release"; try releaseOldest()
            }
        } catch {
            report("\(what): \(error)")
            if let error = error as? PlasmaClientError, case .disconnected = error { try? reconnect() }
        }
    }

    /// Lets go of everything and disconnects.
    func finish() {
        do {
            while !held.isEmpty { try releaseOldest() }
        } catch {
            report("release at the end: \(error)")
        }
        blocking.close()
        asyncClient.shutdown()
    }

    // MARK: Puts

    private func putInline() throws {
        let id = workingID(slot: slot)
        guard try refusal(of: id, { try blocking.createAndSeal(id, data: bytes(for: id, count: pick(Self.smallSizes))) }) == nil
        else { return }
        tally.add(.putInline)
    }

    /// create + write + seal + release; sometimes aborted, sometimes dropped unsealed (the client's deinit
    /// aborts it), sometimes waiting briefly for space.
    private func putInPlace() throws {
        let id = workingID(slot: slot)
        let wait: Wait = chance(10) ? .timeout(.milliseconds(20)) : .no
        var created: MutableObject?
        guard try refusal(of: id, { created = try blocking.create(id, dataSize: pick(Self.mediumSizes), waitForSpace: wait) }) == nil,
              let object = created.take()
        else { return }
        object.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: fill(id)) }
        switch random.next() % 100 {
        case 0..<5:
            try object.abort()
            tally.add(.aborted)
        case 5..<8:
            tally.add(.aborted)  // dropped unsealed
        default:
            try object.seal().release()
            tally.add(.putInPlace)
        }
    }

    /// Runs a put of `id`: nil when it succeeded, else the expected refusal, counted. An id still stored
    /// is deleted, so that the slot's ids keep turning over instead of every put failing once the
    /// working set has filled.
    private func refusal(of id: ObjectID, _ put: () throws -> Void) throws -> PlasmaStatus? {
        do {
            try put()
            return nil
        } catch let error as PlasmaClientError where error.status == .objectExists {
            tally.add(.exists)
            try deleteChecked([id])
            return .objectExists
        } catch let error as PlasmaClientError where error.status == .outOfMemory {
            tally.add(.outOfMemory)
            return .outOfMemory
        }
    }

    private func putBatch() throws {
        let objects = (0..<8).map { _ in
            let id = workingID(slot: slot)
            return InlineObject(id: id, data: bytes(for: id, count: pick(Self.smallSizes)))
        }
        for (object, status) in zip(objects, try blocking.createAndSeal(batch: objects)) {
            switch status {
            case .ok: break
            case .objectExists: tally.add(.exists); try deleteChecked([object.id])
            case .outOfMemory: tally.add(.outOfMemory)
            default: report("put batch: \(object.id): \(status.summary)")
            }
        }
        tally.add(.putBatch)
    }

    // MARK: Gets

    /// get + check + release of any slot's object; one in five is kept for a while.
    private func getOne() throws {
        let id = workingID(slot: Int(random.next() % UInt64(slots)))
        tally.add(.get)
        guard let buffer = try blocking.get(id, timeout: .no) else { return tally.add(.missed) }
        try check(buffer)
        guard chance(20) else { return try buffer.release() }
        if held.count >= Self.heldLimit { try releaseOldest() }
        held.append(buffer)
    }

    private func getMissing() throws {
        let found = try blocking.get(neverID(), timeout: .timeout(.milliseconds(1 + Int(random.next() % 5))))
        guard found == nil else { throw SoakError.neverIDFound }
        tally.add(.getMissing)
        tally.add(.timedOut)
    }

    private func releaseOldest() throws {
        guard !held.isEmpty else { return }
        try held.removeFirst().release()
        tally.add(.releaseHeld)
    }

    private func deleteSome() throws {
        try deleteChecked((0..<1 + Int(random.next() % 4)).map { _ in workingID(slot: Int(random.next() % UInt64(slots))) })
        tally.add(.delete)
    }

    private func deleteChecked(_ ids: [ObjectID]) throws {
        for (id, status) in zip(ids, try blocking.delete(ids)) {
            switch status {
            case .ok: break
            case .objectNotFound, .objectNotSealed: tally.add(.deleteRaced)
            case .deletionDeferred: tally.add(.deferred)
            default: report("delete: \(id): \(status.summary)")
            }
        }
    }

    private func containsOne() throws {
        let id = chance(90) ? workingID(slot: Int(random.next() % UInt64(slots))) : neverID()
        if try blocking.contains(id), id.bytes[0] == 0xFF, id.bytes[1] == 0xFF { throw SoakError.neverIDFound }
        tally.add(.contains)
    }

    // MARK: Async: awaits, cancellation, subscriptions

    /// An async get of a fresh id that this process then seals (sometimes before the get arrives): the
    /// seal must wake it. Half the seals are inline (blocking client), half in place (async put).
    private func awaitSeal() async throws {
        let id = freshID()
        let client = asyncClient
        let waiter = Task { [timeout = Self.awaitTimeout] in
            guard let buffer = try await client.get(id, timeout: .timeout(timeout)) else { throw SoakError.wakeLost(id) }
            return buffer
        }
        if chance(50) { try await Task.sleep(for: .microseconds(Int(random.next() % 500))) }
        do {
            if chance(50) {
                try blocking.createAndSeal(id, data: bytes(for: id, count: pick(Self.smallSizes)))
            } else {
                let fill = fill(id)
                try await client.put(id, size: pick((64 << 10)...(256 << 10))) { $0.initializeMemory(as: UInt8.self, repeating: fill) }
            }
        } catch {
            // Not `catch where`: with typed throws and a capturing closure, Swift 6.3.1 crashes on that.
            guard error.status == .outOfMemory else { throw error }
            waiter.cancel()
            _ = try? await waiter.value
            return tally.add(.outOfMemory)
        }
        let buffer = try await Self.value(of: waiter, within: Self.deliveryLimit, or: .wakeLost(id))
        try check(buffer)
        try buffer.release()
        _ = try blocking.delete([id])
        tally.add(.awaitSeal)
    }

    /// An await that only cancellation can end, cancelled after up to 2 ms.
    private func awaitCancel() async throws {
        let id = neverID()
        let client = asyncClient
        let waiter = Task { try await client.get(id) }
        try await Task.sleep(for: .microseconds(Int(random.next() % 2000)))
        waiter.cancel()
        do {
            _ = try await waiter.value
            throw SoakError.neverIDFound
        } catch PlasmaClientError.cancelled {
            tally.add(.cancelled)
        }
        tally.add(.awaitCancel)
    }

    private func awaitTimeout() async throws {
        guard try await asyncClient.get(neverID(), timeout: .milliseconds(1 + Int(random.next() % 3))) == nil else {
            throw SoakError.neverIDFound
        }
        tally.add(.timedOut)
        tally.add(.awaitTimeout)
    }

    /// Subscribes to this slot's prefix, seals a fresh id on the same connection (so the store has the
    /// subscription first) and reads events until that seal's; leaving the loop unsubscribes.
    private func subscribeRound() async throws {
        let id = freshID()
        let client = asyncClient
        let payload = bytes(for: id, count: pick(Self.smallSizes))
        let events = client.events(prefix: Array(id.bytes[0..<2]))
        let seen = try await withThrowingTaskGroup(of: SubscriptionOutcome.self) { group in
            group.addTask {
                do {
                    try await client.createAndSeal(id, data: payload)
                } catch let error as PlasmaClientError where error.status == .outOfMemory {
                    return .refused
                }
                for try await event in events {
                    if case .sealed(let sealed, _, _) = event, sealed == id { return .seen }
                    if case .overflow = event { return .overflowed }
                }
                throw SoakError.subscriptionEnded
            }
            group.addTask {
                try await Task.sleep(for: Self.deliveryLimit)
                throw SoakError.eventLost(id)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
        switch seen {
        case .refused: tally.add(.outOfMemory)
        case .overflowed: tally.add(.overflow)
        case .seen: break
        }
        _ = try blocking.delete([id])
        tally.add(.subscribe)
    }

    private enum SubscriptionOutcome: Sendable { case seen, overflowed, refused }

    /// The task's value, or `failure` (and the task cancelled) when it takes longer than `limit`.
    private static func value<T: Sendable>(of task: Task<T, any Error>, within limit: Duration, or failure: SoakError) async throws -> T {
        do {
            return try await withThrowingTaskGroup(of: T.self) { group in
                group.addTask { try await task.value }
                group.addTask {
                    try await Task.sleep(for: limit)
                    throw failure
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch {
            task.cancel()
            throw error
        }
    }

    // MARK: Connections

    /// Closes both connections and opens new ones. Half the time with references still held and an
    /// unsealed object open: the store has to drop those itself.
    private func reconnect() throws {
        var unsealed: MutableObject?
        if chance(50) {
            try releaseHeldAll()
        } else {
            let id = freshID()
            unsealed = try tolerate([.outOfMemory: .outOfMemory]) { try blocking.create(id, dataSize: pick(Self.smallSizes)) }
        }
        blocking.close()
        asyncClient.shutdown()
        held.removeAll()  // their releases go to the closed connection: nowhere
        unsealed = nil
        _ = unsealed
        blocking = try PlasmaClient(socketPath: socket, retries: 100)
        asyncClient = try AsyncPlasmaClient(socketPath: socket, retries: 100)
        tally.add(.reconnect)
    }

    private func releaseHeldAll() throws {
        while !held.isEmpty { try releaseOldest() }
    }

    // MARK: Helpers

    /// Runs `body`; a store refusal with one of `expected` statuses is counted and gives nil.
    private func tolerate<T: ~Copyable>(_ expected: [PlasmaStatus: SoakCounter], _ body: () throws -> T) throws -> T? {
        do {
            return try body()
        } catch let error as PlasmaClientError {
            guard let status = error.status, let counter = expected[status] else { throw error }
            tally.add(counter)
            return nil
        }
    }

    private func check(_ buffer: ObjectBuffer) throws {
        let expected = fill(buffer.id)
        let intact = buffer.withUnsafeBytes { data in
            data.first.map({ $0 == expected }) ?? true && data.last.map({ $0 == expected }) ?? true
                && (data.count > Self.smallSizes.upperBound || data.allSatisfy({ $0 == expected }))
        }
        guard buffer.metadataCount == 0, intact else { throw SoakError.corrupt(buffer.id, buffer.count) }
    }

    private func workingID(slot: Int) -> ObjectID {
        let index = UInt32(random.next() % UInt64(Self.workingSetPerSlot))
        var bytes = [UInt8(slot >> 8), UInt8(slot & 0xFF), 0]
        bytes += withUnsafeBytes(of: index.bigEndian, Array.init)
        bytes += withUnsafeBytes(of: seed.bigEndian, Array.init)
        bytes += [UInt8](repeating: 0, count: ObjectID.byteCount - bytes.count)
        return ObjectID(bytes: bytes)!
    }

    private func freshID() -> ObjectID {
        ObjectID(bytes: [UInt8(slot >> 8), UInt8(slot & 0xFF), 1] + ObjectID.random().bytes[3...])!
    }

    private func neverID() -> ObjectID {
        ObjectID(bytes: [0xFF, 0xFF, 0xFF] + ObjectID.random().bytes[3...])!
    }

    private func bytes(for id: ObjectID, count: Int) -> [UInt8] { [UInt8](repeating: fill(id), count: count) }

    private func fill(_ id: ObjectID) -> UInt8 { id.bytes.reduce(0x5A) { $0 &* 31 &+ $1 } }

    private func pick(_ range: ClosedRange<Int>) -> Int {
        let unit = Double(random.next() >> 11) * 0x1p-53
        let (low, high) = (log(Double(range.lowerBound)), log(Double(range.upperBound)))
        return min(range.upperBound, Int(exp(low + unit * (high - low))))
    }

    private func chance(_ percent: UInt64) -> Bool { random.next() % 100 < percent }

    private func report(_ what: String) {
        tally.add(.unexpected)
        guard errorsPrinted < 50 else { return }
        errorsPrinted += 1
        ChildSignal.emit("error " + what.replacingOccurrences(of: "\n", with: " "))
    }
}

enum SoakError: Error, CustomStringConvertible {
    case neverIDFound
    case corrupt(ObjectID, Int)
    case eventLost(ObjectID)
    case wakeLost(ObjectID)
    case subscriptionEnded

    var description: String {
        switch self {
        case .neverIDFound: "an id no one ever creates was found"
        case .corrupt(let id, let size): "\(id) (\(size) B) has bytes other than its writer's"
        case .eventLost(let id): "no sealed event for \(id) within \(SoakClient.deliveryLimit)"
        case .wakeLost(let id): "the seal of \(id) did not wake its await within \(SoakClient.deliveryLimit)"
        case .subscriptionEnded: "the event stream ended without an error"
        }
    }
}

/// Set once, from the stdin watcher thread.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
