// libFuzzer harness for the store engine (Sources/PlasmaEngine), driven through public API only: native
// requests through PlasmaStore's NativeAdapter (handle, replySink), and StoreEngine's connect,
// disconnect, fireDeadlines, statistics, checkInvariants and observer. Built and run by Fuzz/run.sh; see
// Fuzz/README.md.
//
// The input is a program: one byte picks a command, the bytes after it its operands (missing bytes read
// as 0). Commands run against a fresh engine with a 64 KiB capacity, over four client slots and a pool
// of eight object ids that share prefixes, on a clock that only the program moves:
//
//   op % 18  command                 operands
//   0        connect                 slot (a connected slot sends a `connect` request instead)
//   1        disconnect              slot
//   2        create                  slot, id, size, metadata size, timeout, request id
//   3        seal                    slot, id
//   4        abort                   slot, id
//   5        create-and-seal         slot, id, size, metadata size, timeout, request id
//   6        create-and-seal batch   slot, count, (id, size, metadata size) per item
//   7        get                     slot, count, ids, timeout, request id
//   8        release                 slot, count, ids
//   9        contains                slot, id
//   10       delete                  slot, count, ids
//   11       evict                   slot, size
//   12       list                    slot
//   13       stats                   slot
//   14       cancel                  slot, request id
//   15       subscribe               slot, subscription id (0...3; 0 is invalid), filter
//   16       unsubscribe             slot, subscription id
//   17       advance clock           milliseconds (one byte, times 1 or 100), then fireDeadlines
//
// A request to an empty slot connects a new client there first. Sizes pick from 0, small, block
// multiples, any u16, the capacity, just below and just above it, and near Int64.max; timeouts from 0,
// -1 (forever), 1 ms, a few ms, a few hundred ms and Int64.max (too long to represent: forever). A request
// id operand with its top bit set reuses the slot's previous request id instead of a fresh one.
// The per-client limits are set low (4 waiting gets, 4 waiting creates, 2 subscriptions) so that the
// limit paths are reached.
//
// Checked after every command (a violation traps, which libFuzzer reports as a crash):
// - `engine.checkInvariants()`, and 0 <= bytesInUse <= capacity, evictableBytes <= bytesInUse,
//   the engine's client count equals the harness's;
// - every reply: to a connected client, for a request that client sent and that has not had its reply
//   yet (at most one reply per request); `created` offsets and `get` locations lie inside the arena;
//   `get` answers one location per id, `release` / `delete` / batch one status per item;
// - every event: for a subscription its client holds, about an object its filter matches.
// At the end, the clock jumps to the largest value and deadlines fire: every request that had a finite
// timeout (or none to wait for) must have been answered by then; only waits of -1 / unrepresentable
// timeouts may still be pending.

import Glibc
import PlasmaCore
import PlasmaEngine
import PlasmaStore
import PlasmaWire

/// ENGINE_TRACE=1 prints every command, reply and event (for reading a crashing input).
private let tracing = getenv("ENGINE_TRACE") != nil

private func trace(_ line: @autoclosure () -> String) {
    if tracing { fputs(line() + "\n", stderr) }
}

@inline(never)
private func violated(_ what: String) -> Never {
    fatalError("EngineCommands property violated: \(what)")
}

private let capacity = 64 * 1024
private let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 64)

/// The only clock the engine sees; the program moves it.
private final class ManualClock: EngineClock {
    var monotonic: UInt64 = 1_000_000_000
    var wall: Int64 = 1_700_000_000_000_000_000

    func monotonicNanoseconds() -> UInt64 { monotonic }
    func wallNanoseconds() -> Int64 { wall }
}

/// The engine's observer, routed as the server routes it for native clients.
private final class Relay: EngineObserver {
    weak var harness: Harness?

    func getAnswered(client: ClientID, ticket: UInt64, _ answer: Result<[ObjectLocation?], EngineError>) {
        harness?.native.getAnswered(client: client, ticket: ticket, answer)
    }

    func createAnswered(client: ClientID, ticket: UInt64, sealing: Bool, _ answer: Result<CreateOutcome, EngineError>) {
        harness?.native.createAnswered(client: client, ticket: ticket, sealing: sealing, answer)
    }

    func deliver(_ event: ObjectEvent, to subscription: SubscriptionKey) { harness?.received(event, key: subscription) }
}

/// Bytes of the input, read front to back; 0 once they run out.
private struct Program {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    var atEnd: Bool { position >= bytes.count }

    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16() -> Int { Int(byte()) | Int(byte()) << 8 }
}

/// Object ids 0..<8: ids 2k and 2k+1 share their first byte, so that prefix filters match pairs.
private let idPool: [ObjectID] = (0..<8).map { index in
    ObjectID(bytes: [UInt8(index >> 1), UInt8(index)] + (0..<18).map { UInt8(truncatingIfNeeded: index * 17 + $0) })!
}

private struct RequestKey: Hashable {
    var client: UInt64
    var requestID: UInt64
    var type: MessageType
}

/// What the harness knows about one request it sent (several may share a key: reused request ids).
private struct Outstanding {
    var sent = 0
    var answered = 0
    /// Of `sent`, how many may wait forever (timeout -1 or too long to represent).
    var mayWaitForever = 0
    /// Bytes asked for by each create, items in each get / release / delete / batch sent with this key
    /// (a reply must fit one of them: with a reused request id it may answer an older request).
    var sizes: [Int] = []
    var itemCounts: [Int] = []
}

private final class Harness {
    let clock = ManualClock()
    let engine: StoreEngine
    let native: NativeAdapter
    private let relay = Relay()
    var slots: [ClientID?] = [nil, nil, nil, nil]
    var lastRequestID: [UInt64] = [0, 0, 0, 0]
    var nextRequestID: UInt64 = 1
    var connected: Set<ClientID> = []
    var requests: [RequestKey: Outstanding] = [:]
    /// Subscriptions each client holds, with their filters.
    var subscriptions: [ClientID: [UInt64: SubscriptionFilter]] = [:]
    var lastReply: Reply?

    init() {
        var configuration = StoreEngine.Configuration(capacity: capacity)
        configuration.maxWaitingGetsPerClient = 4
        configuration.maxWaitingCreatesPerClient = 4
        configuration.maxSubscriptionsPerClient = 2
        engine = StoreEngine(
            configuration: configuration, memory: arena, allocator: Allocator(size: arena.count), clock: clock)
        native = NativeAdapter(engine: engine, arenaSize: arena.count)
        native.replySink = { [unowned self] client, requestID, type, reply in
            self.received(reply, client: client, requestID: requestID, type: type)
        }
        relay.harness = self
        engine.observer = relay
    }

    // MARK: Checks on what the engine emits

    func received(_ reply: Reply, client: ClientID, requestID: UInt64, type: MessageType) {
        trace("    reply to \(client), \(type) request \(requestID): \(reply)")
        guard connected.contains(client) else { violated("reply \(reply) to \(client), which is not connected") }
        let key = RequestKey(client: client.rawValue, requestID: requestID, type: type)
        guard var request = requests[key], request.answered < request.sent else {
            violated("reply \(reply) to \(type) request \(requestID) of \(client): not asked for, or answered already")
        }
        request.answered += 1
        requests[key] = request
        lastReply = reply
        switch reply {
        case .created(let offset):
            let size = request.sizes.min() ?? 0
            guard type == .create, offset >= 0, offset <= arena.count - size else {
                violated("created at offset \(offset) for \(size) bytes (\(type)), arena of \(arena.count)")
            }
        case .objects(let locations):
            guard type == .get, request.itemCounts.contains(locations.count) else {
                violated("\(locations.count) locations for a \(type) of \(request.itemCounts) ids")
            }
            for case let location? in locations {
                let (size, overflow) = location.dataSize.addingReportingOverflow(location.metadataSize)
                guard location.offset >= 0, location.dataSize >= 0, location.metadataSize >= 0, !overflow,
                    location.offset <= arena.count - size
                else { violated("get location \(location) outside the \(arena.count)-byte arena") }
            }
        case .statuses(let statuses):
            guard request.itemCounts.contains(statuses.count) else {
                violated("\(statuses.count) statuses for a \(type) of \(request.itemCounts) items")
            }
        default:
            break
        }
    }

    func received(_ event: ObjectEvent, key: SubscriptionKey) {
        trace("    event for \(key.client), subscription \(key.subscriptionID): \(event)")
        guard connected.contains(key.client), let filter = subscriptions[key.client]?[key.subscriptionID] else {
            violated("event \(event) for subscription \(key.subscriptionID) of \(key.client), which it does not hold")
        }
        if let id = event.id, !filter.matches(id) {
            violated("event \(event) for subscription \(key.subscriptionID) whose filter \(filter) does not match")
        }
    }

    func checkEngine(after command: @autoclosure () -> String) {
        guard engine.checkInvariants() else { violated("checkInvariants() failed after \(command())") }
        let statistics = engine.statistics
        guard statistics.bytesInUse >= 0, statistics.bytesInUse <= Int64(capacity) else {
            violated("bytesInUse \(statistics.bytesInUse) with capacity \(capacity) after \(command())")
        }
        guard statistics.evictableBytes >= 0, statistics.evictableBytes <= statistics.bytesInUse else {
            violated("evictableBytes \(statistics.evictableBytes), bytesInUse \(statistics.bytesInUse) after \(command())")
        }
        guard engine.clientCount == connected.count else {
            violated("engine has \(engine.clientCount) clients, harness connected \(connected.count) after \(command())")
        }
    }

    // MARK: Sending

    func client(_ slot: Int) -> ClientID {
        if let client = slots[slot] { return client }
        let client = engine.connect()
        trace("connect() -> \(client) in slot \(slot)")
        guard !connected.contains(client) else { violated("connect() reused \(client)") }
        connected.insert(client)
        slots[slot] = client
        return client
    }

    func disconnect(_ slot: Int) {
        guard let client = slots[slot] else { return }
        slots[slot] = nil
        trace("disconnect(\(client))")
        engine.disconnect(client)
        // Its requests die with it; replies to it from now on are violations.
        connected.remove(client)
        subscriptions[client] = nil
        requests = requests.filter { $0.key.client != client.rawValue }
    }

    /// Picks the request id: the slot's previous one when the operand's top bit is set, else a fresh one.
    func requestID(_ slot: Int, _ operand: UInt8) -> UInt64 {
        if operand & 0x80 != 0, lastRequestID[slot] != 0 { return lastRequestID[slot] }
        defer { nextRequestID += 1 }
        lastRequestID[slot] = nextRequestID
        return nextRequestID
    }

    /// True when the engine would keep a wait of `timeout` ms forever (see `StoreEngine.addDeadline`).
    func waitsForever(_ timeout: Int64) -> Bool {
        if timeout < 0 { return true }
        if timeout == 0 { return false }
        let (delay, overflow) = UInt64(timeout).multipliedReportingOverflow(by: 1_000_000)
        let (_, late) = clock.monotonic.addingReportingOverflow(delay)
        return overflow || late
    }

    func send(_ request: Request, slot: Int, requestID: UInt64? = nil, timeout: Int64 = 0, size: Int = 0, items: Int = 0) {
        let client = client(slot)
        let requestID = requestID ?? self.requestID(slot, 0)
        let key = RequestKey(client: client.rawValue, requestID: requestID, type: request.messageType)
        var outstanding = requests[key] ?? Outstanding()
        outstanding.sent += 1
        if waitsForever(timeout) { outstanding.mayWaitForever += 1 }
        outstanding.sizes.append(size)
        outstanding.itemCounts.append(items)
        requests[key] = outstanding
        lastReply = nil
        trace("\(client) sends request \(requestID): \(summary(of: request))")
        native.handle(request, requestID: requestID, from: client)
    }

    // MARK: Operands

    func slot(_ program: inout Program) -> Int { Int(program.byte() & 3) }

    func id(_ program: inout Program) -> ObjectID { idPool[Int(program.byte() & 7)] }

    func ids(_ program: inout Program) -> [ObjectID] {
        let count = Int(program.byte() % 5)
        return (0..<count).map { _ in id(&program) }
    }

    func size(_ program: inout Program) -> Int {
        switch program.byte() % 8 {
        case 0: 0
        case 1: Int(program.byte())
        case 2: Int(program.byte()) * 64
        case 3: program.u16()
        case 4: capacity
        case 5: capacity - Int(program.byte())
        case 6: capacity + 1
        default: Int(Int64.max) - Int(program.byte())
        }
    }

    /// Sizes of bytes the harness really allocates (inline objects): never near Int64.max.
    func inlineSize(_ program: inout Program) -> Int { min(size(&program), capacity + 64) }

    func timeout(_ program: inout Program) -> Int64 {
        switch program.byte() % 6 {
        case 0: 0
        case 1: -1
        case 2: 1
        case 3: Int64(program.byte())
        case 4: Int64(program.byte()) * 100
        default: .max
        }
    }

    func filter(_ program: inout Program) -> SubscriptionFilter {
        switch program.byte() % 3 {
        case 0: return .all
        case 1: return .ids(ids(&program))
        default:
            let length = 1 + Int(program.byte() % UInt8(ObjectID.byteCount))
            return .prefix(Array(id(&program).bytes.prefix(length)))
        }
    }

    func inline(_ program: inout Program) -> InlineObject {
        let id = id(&program)
        let data = [UInt8](repeating: 0xA5, count: inlineSize(&program))
        let metadata = [UInt8](repeating: 0x5A, count: Int(program.byte() % 32))
        return InlineObject(id: id, data: data, metadata: metadata)
    }

    // MARK: Running

    func step(_ program: inout Program) {
        let op = program.byte() % 18
        switch op {
        case 0:
            let slot = slot(&program)
            if slots[slot] == nil { _ = client(slot) } else { send(.connect(clientName: "fuzz"), slot: slot) }
        case 1:
            disconnect(slot(&program))
        case 2:
            let slot = slot(&program)
            let id = id(&program)
            let (dataSize, metadataSize) = (size(&program), Int(program.byte()))
            let timeout = timeout(&program)
            let requestID = requestID(slot, program.byte())
            let (total, overflow) = dataSize.addingReportingOverflow(metadataSize)
            send(
                .create(id: id, dataSize: dataSize, metadataSize: metadataSize, timeoutMilliseconds: timeout),
                slot: slot, requestID: requestID, timeout: timeout, size: overflow ? .max : total)
        case 3:
            let slot = slot(&program)
            send(.seal(id: id(&program)), slot: slot)
        case 4:
            let slot = slot(&program)
            send(.abort(id: id(&program)), slot: slot)
        case 5:
            let slot = slot(&program)
            let object = inline(&program)
            let timeout = timeout(&program)
            let requestID = requestID(slot, program.byte())
            send(.createAndSeal(object, timeoutMilliseconds: timeout), slot: slot, requestID: requestID, timeout: timeout)
        case 6:
            let slot = slot(&program)
            let objects = (0..<Int(program.byte() % 4)).map { _ in inline(&program) }
            send(.createAndSealBatch(objects), slot: slot, items: objects.count)
        case 7:
            let slot = slot(&program)
            let ids = ids(&program)
            let timeout = timeout(&program)
            let requestID = requestID(slot, program.byte())
            send(.get(ids: ids, timeoutMilliseconds: timeout), slot: slot, requestID: requestID, timeout: timeout,
                 items: ids.count)
        case 8:
            let slot = slot(&program)
            let ids = ids(&program)
            send(.release(ids: ids), slot: slot, items: ids.count)
        case 9:
            let slot = slot(&program)
            send(.contains(id: id(&program)), slot: slot)
        case 10:
            let slot = slot(&program)
            let ids = ids(&program)
            send(.delete(ids: ids), slot: slot, items: ids.count)
        case 11:
            let slot = slot(&program)
            send(.evict(bytes: size(&program)), slot: slot)
        case 12:
            send(.list, slot: slot(&program))
        case 13:
            send(.stats, slot: slot(&program))
        case 14:
            let slot = slot(&program)
            let operand = program.byte()
            // Mostly the slot's previous request (which may be waiting); sometimes an arbitrary id.
            let target = operand & 0x80 != 0 ? UInt64(operand & 0x7F) : lastRequestID[slot]
            send(.cancel(requestID: target), slot: slot)
        case 15:
            let slot = slot(&program)
            let client = client(slot)
            let subscriptionID = UInt64(program.byte() & 3)
            let filter = filter(&program)
            // The engine announces already-sealed ids before it replies: hold the subscription meanwhile.
            let previous = subscriptions[client]?[subscriptionID]
            subscriptions[client, default: [:]][subscriptionID] = filter
            send(.subscribe(subscriptionID: subscriptionID, filter: filter), slot: slot)
            if case .failure = lastReply { subscriptions[client]?[subscriptionID] = previous }
            if lastReply == nil { violated("subscribe got no immediate reply") }
        case 16:
            let slot = slot(&program)
            let client = client(slot)
            let subscriptionID = UInt64(program.byte() & 3)
            send(.unsubscribe(subscriptionID: subscriptionID), slot: slot)
            if case .done = lastReply { subscriptions[client]?[subscriptionID] = nil }
        default:
            let operand = program.byte()
            let milliseconds = UInt64(operand & 0x7F) * (operand & 0x80 != 0 ? 100 : 1)
            clock.monotonic += milliseconds * 1_000_000
            clock.wall += Int64(milliseconds * 1_000_000)
            trace("advance clock \(milliseconds) ms, fireDeadlines()")
            engine.fireDeadlines()
        }
        checkEngine(after: "command \(op)")
    }

    /// Fires every deadline there can be; then only waits without one may be unanswered.
    func finish() {
        clock.monotonic = .max
        trace("end: clock to UInt64.max, fireDeadlines()")
        engine.fireDeadlines()
        checkEngine(after: "the final fireDeadlines")
        for (key, request) in requests where request.sent - request.answered > request.mayWaitForever {
            violated("\(key.type) request \(key.requestID) of client \(key.client) never answered (\(request))")
        }
    }
}

/// A request for the trace: inline objects as id and sizes, not their bytes.
private func summary(of request: Request) -> String {
    func describe(_ object: InlineObject) -> String {
        "\(object.id) (\(object.data.count) + \(object.metadata.count) bytes)"
    }
    switch request {
    case .createAndSeal(let object, let timeout): return "createAndSeal(\(describe(object)), timeout \(timeout) ms)"
    case .createAndSealBatch(let objects): return "createAndSealBatch(\(objects.map(describe)))"
    default: return "\(request)"
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var program = Program(bytes: UnsafeRawBufferPointer(start: data, count: size))
    let harness = Harness()
    while !program.atEnd { harness.step(&program) }
    harness.finish()
    return 0
}
