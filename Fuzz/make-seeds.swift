// Writes the seed corpora in Fuzz/corpus/<harness>/seed-<name>, from frames the real encoders produce.
// Built and run by `Fuzz/run.sh --make-seeds` (links PlasmaCore + PlasmaWire); the output is committed.
// Rerun it when a wire format changes, and commit what changed.
//
// usage: make-seeds <corpus directory>

import Glibc
import PlasmaCore
import PlasmaWire

guard CommandLine.arguments.count == 2 else {
    fputs("usage: make-seeds <corpus directory>\n", stderr)
    exit(2)
}
let corpus = CommandLine.arguments[1]
var written = 0

func write(_ harness: String, _ name: String, _ bytes: [UInt8]) {
    let directory = "\(corpus)/\(harness)"
    mkdir(corpus, 0o755)
    mkdir(directory, 0o755)
    let path = "\(directory)/seed-\(name)"
    guard let file = fopen(path, "wb") else {
        fputs("cannot write \(path)\n", stderr)
        exit(1)
    }
    _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
    written += 1
}

/// Readable ids: distinct seeds give distinct ids (as `testID` in the unit tests).
func id(_ seed: UInt8) -> ObjectID {
    ObjectID(bytes: (0..<UInt8(ObjectID.byteCount)).map { $0 &+ seed &* 31 })!
}

// MARK: Native frames

func request(_ request: Request, id requestID: UInt64 = 1) -> [UInt8] {
    var writer = ByteWriter()
    request.encode(requestID: requestID, into: &writer)
    return writer.buffer
}

func reply(_ reply: Reply, to type: MessageType, id requestID: UInt64 = 1) -> [UInt8] {
    var writer = ByteWriter()
    reply.encode(type: type, requestID: requestID, into: &writer)
    return writer.buffer
}

func event(_ event: ObjectEvent, subscription: UInt64 = 1) -> [UInt8] {
    var writer = ByteWriter()
    event.encode(subscriptionID: subscription, into: &writer)
    return writer.buffer
}

let small = InlineObject(id: id(2), data: Array("hello".utf8), metadata: [1, 2])
let nativeRequests: [(String, Request)] = [
    ("connect", .connect(clientName: "fuzz-client")),
    ("create", .create(id: id(1), dataSize: 4096, metadataSize: 16, timeoutMilliseconds: 0)),
    ("create-wait", .create(id: id(1), dataSize: 1 << 20, metadataSize: 0, timeoutMilliseconds: -1)),
    ("seal", .seal(id: id(1))),
    ("abort", .abort(id: id(1))),
    ("create-and-seal", .createAndSeal(small, timeoutMilliseconds: 100)),
    ("batch", .createAndSealBatch([small, InlineObject(id: id(3), data: [], metadata: [9])])),
    ("get", .get(ids: [id(1), id(2), id(1)], timeoutMilliseconds: 250)),
    ("get-poll", .get(ids: [id(4)], timeoutMilliseconds: 0)),
    ("release", .release(ids: [id(1), id(2)])),
    ("contains", .contains(id: id(5))),
    ("delete", .delete(ids: [id(1)])),
    ("evict", .evict(bytes: 65536)),
    ("list", .list),
    ("stats", .stats),
    ("cancel", .cancel(requestID: 42)),
    ("subscribe-all", .subscribe(subscriptionID: 1, filter: .all)),
    ("subscribe-ids", .subscribe(subscriptionID: 2, filter: .ids([id(1), id(2)]))),
    ("subscribe-prefix", .subscribe(subscriptionID: 3, filter: .prefix([0, 31, 62]))),
    ("unsubscribe", .unsubscribe(subscriptionID: 3)),
]
for (name, value) in nativeRequests { write("NativeDecoder", "request-\(name)", request(value, id: 7)) }

let info = ObjectInfo(
    id: id(1), dataSize: 4096, metadataSize: 16, referenceCount: 2, state: .sealed,
    createdAtNanoseconds: 1_700_000_000_000_000_000, sealDurationNanoseconds: 1500, deletePending: true)
var statistics = StoreStatistics()
statistics.capacity = 1 << 30
statistics.bytesInUse = 4096
statistics.clients = 3
let nativeReplies: [(String, Reply, MessageType)] = [
    ("failure", .failure(.outOfMemory, message: "the store is full"), .create),
    ("connected", .connected(capacity: 1 << 30, arenaSize: 1 << 30, clientID: 9), .connect),
    ("created", .created(offset: 128), .create),
    ("done", .done, .seal),
    ("statuses", .statuses([.ok, .objectNotFound, .deletionDeferred]), .delete),
    ("objects", .objects([ObjectLocation(offset: 64, dataSize: 10, metadataSize: 2), nil]), .get),
    ("contains", .contains(true), .contains),
    ("evicted", .evicted(bytes: 8192, objects: 2), .evict),
    ("list", .list([info, ObjectInfo(
        id: id(2), dataSize: 0, metadataSize: 0, referenceCount: 1, state: .created, createdAtNanoseconds: 5,
        sealDurationNanoseconds: -1, deletePending: false)]), .list),
    ("stats", .stats(statistics), .stats),
]
for (name, value, type) in nativeReplies { write("NativeDecoder", "reply-\(name)", reply(value, to: type, id: 7)) }

let nativeEvents: [(String, ObjectEvent)] = [
    ("sealed", .sealed(id(1), dataSize: 4096, metadataSize: 16)),
    ("deleted", .deleted(id(1))),
    ("evicted", .evicted(id(2))),
    ("aborted", .aborted(id(3))),
    ("overflow", .overflow(droppedEvents: 17)),
]
for (name, value) in nativeEvents { write("NativeDecoder", "event-\(name)", event(value, subscription: 2)) }

write("NativeDecoder", "stream-requests",
      request(.connect(clientName: "a"), id: 1) + request(.create(id: id(1), dataSize: 8, metadataSize: 0, timeoutMilliseconds: 0), id: 2)
        + request(.seal(id: id(1)), id: 3) + request(.get(ids: [id(1)], timeoutMilliseconds: -1), id: 4))
write("NativeDecoder", "stream-replies-events",
      reply(.created(offset: 0), to: .create, id: 2) + event(.sealed(id(1), dataSize: 8, metadataSize: 0))
        + reply(.done, to: .seal, id: 3))
// Raw mode (the first header is rejected): a type in the first two bytes, then a payload.
let rawGet = request(.get(ids: [id(1)], timeoutMilliseconds: 5), id: 1)
write("NativeDecoder", "raw-get", [UInt8(MessageType.get.rawValue), 0] + rawGet[FrameHeader.size...])

// MARK: Arrow frames

let digest: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
let arrowRequests: [(String, ArrowRequest)] = [
    ("connect", .connect),
    ("create", .create(id: id(1), evictIfFull: true, dataSize: 4096, metadataSize: 8, deviceNum: 0)),
    ("create-and-seal", .createAndSeal(id: id(2), evictIfFull: true, data: Array("hi".utf8), metadata: [7], digest: digest)),
    ("batch", .createAndSealBatch(
        ids: [id(3), id(4)], evictIfFull: false, data: [[1], [2, 2]], metadata: [[], [3]], digests: [digest, digest])),
    ("abort", .abort(id: id(1))),
    ("seal", .seal(id: id(1), digest: digest)),
    ("get", .get(ids: [id(1), id(2)], timeoutMs: -1)),
    ("release", .release(id: id(1))),
    ("delete", .delete(ids: [id(1), id(2)])),
    ("contains", .contains(id: id(1))),
    ("list", .list),
    ("evict", .evict(numBytes: 1 << 20)),
    ("subscribe", .subscribe),
    ("set-options", .setOptions(clientName: "pyarrow", outputMemoryQuota: 1 << 24)),
    ("debug-string", .getDebugString),
    ("refresh-lru", .refreshLRU(ids: [id(1)])),
]
for (name, value) in arrowRequests { write("ArrowDecoder", "request-\(name)", value.encode()) }

let spec = ArrowObjectSpec(segmentIndex: 5, dataOffset: 8, dataSize: 4096, metadataOffset: 4104, metadataSize: 8)
let sealedInfo = ArrowObjectInfo(
    objectID: id(1), dataSize: 4096, metadataSize: 8, refCount: 1, createTime: 1_700_000_000, constructDuration: 3,
    digest: digest)
let arrowReplies: [(String, ArrowReply)] = [
    ("connect", .connect(memoryCapacity: 1 << 30)),
    ("create", .create(id: id(1), spec: spec, error: .ok, storeFd: 5, mmapSize: (1 << 30) + 8)),
    ("create-and-seal", .createAndSeal(error: .objectExists)),
    ("batch", .createAndSealBatch(error: .ok)),
    ("abort", .abort(id: id(1))),
    ("seal", .seal(id: id(1), error: .ok)),
    ("get", .get(ids: [id(1), id(2)], specs: [spec, .notFound], storeFds: [5], mmapSizes: [(1 << 30) + 8])),
    ("delete", .delete(ids: [id(1), id(2)], errors: [.ok, .objectInUse])),
    ("contains", .contains(id: id(1), hasObject: true)),
    ("list", .list([sealedInfo, ArrowObjectInfo(objectID: id(2), dataSize: 1, refCount: 1)])),
    ("evict", .evict(numBytes: 8192)),
    ("set-options", .setOptions(error: .outOfMemory)),
    ("debug-string", .getDebugString("store: 2 objects")),
    ("refresh-lru", .refreshLRU),
]
for (name, value) in arrowReplies { write("ArrowDecoder", "reply-\(name)", value.encode()) }

write("ArrowDecoder", "stream-requests",
      ArrowRequest.connect.encode() + ArrowRequest.create(
          id: id(1), evictIfFull: true, dataSize: 10, metadataSize: 0, deviceNum: 0).encode()
        + ArrowRequest.seal(id: id(1), digest: digest).encode())
// Notification socket messages (int64 size, then a PlasmaNotification): mode 2 of the harness.
write("ArrowDecoder", "notification-sealed", ArrowNotification([
    .sealed(id: id(1), dataSize: 4096, metadataSize: 8, digest: digest)]).encode())
write("ArrowDecoder", "notification-deleted", ArrowNotification([.deleted(id: id(2))]).encode())
write("ArrowDecoder", "notification-batch", ArrowNotification([
    .sealed(id: id(3), dataSize: 1, metadataSize: 0, digest: digest),
    .sealed(id: id(4), dataSize: 2, metadataSize: 1, digest: digest)]).encode()
    + ArrowNotification([.deleted(id: id(3))]).encode())
// Raw mode: a type byte, then a bare flatbuffer.
write("ArrowDecoder", "raw-get-reply", [UInt8(ArrowMessageType.getReply.rawValue)]
      + ArrowReply.get(ids: [id(1)], specs: [spec], storeFds: [5], mmapSizes: [4096]).encodePayload())
write("ArrowDecoder", "raw-notification-payload", [UInt8(ArrowMessageType.notification.rawValue)]
      + ArrowNotification([sealedInfo]).encodePayload())

// MARK: Engine programs (the command language of Fuzz/EngineCommands/main.swift)

enum Size {
    case zero, small(UInt8), blocks(UInt8), u16(UInt16), capacity, belowCapacity(UInt8), aboveCapacity, huge(UInt8)
    var bytes: [UInt8] {
        switch self {
        case .zero: [0]
        case .small(let value): [1, value]
        case .blocks(let count): [2, count]
        case .u16(let value): [3, UInt8(value & 0xFF), UInt8(value >> 8)]
        case .capacity: [4]
        case .belowCapacity(let value): [5, value]
        case .aboveCapacity: [6]
        case .huge(let value): [7, value]
        }
    }
}

enum Timeout {
    case poll, forever, oneMillisecond, milliseconds(UInt8), hundreds(UInt8), unrepresentable
    var bytes: [UInt8] {
        switch self {
        case .poll: [0]
        case .forever: [1]
        case .oneMillisecond: [2]
        case .milliseconds(let value): [3, value]
        case .hundreds(let value): [4, value]
        case .unrepresentable: [5]
        }
    }
}

enum Filter {
    case all, ids([UInt8]), prefix(length: UInt8, of: UInt8)
    var bytes: [UInt8] {
        switch self {
        case .all: [0]
        case .ids(let ids): [1, UInt8(ids.count)] + ids
        case .prefix(let length, let id): [2, length - 1, id]
        }
    }
}

/// One command; `reuse` sets the top bit of the request-id operand (reuse the slot's previous id).
enum Command {
    case connect(UInt8), disconnect(UInt8)
    case create(UInt8, id: UInt8, Size, metadata: UInt8 = 0, Timeout = .poll, reuse: Bool = false)
    case seal(UInt8, id: UInt8), abort(UInt8, id: UInt8)
    case createAndSeal(UInt8, id: UInt8, Size, metadata: UInt8 = 0, Timeout = .poll, reuse: Bool = false)
    case batch(UInt8, [(id: UInt8, size: Size, metadata: UInt8)])
    case get(UInt8, [UInt8], Timeout = .poll, reuse: Bool = false)
    case release(UInt8, [UInt8]), contains(UInt8, id: UInt8), delete(UInt8, [UInt8])
    case evict(UInt8, Size), list(UInt8), stats(UInt8)
    case cancelPrevious(UInt8), cancel(UInt8, requestID: UInt8)
    case subscribe(UInt8, UInt8, Filter), unsubscribe(UInt8, UInt8)
    case advance(UInt8), advanceHundreds(UInt8)

    var bytes: [UInt8] {
        switch self {
        case .connect(let slot): [0, slot]
        case .disconnect(let slot): [1, slot]
        case .create(let slot, let id, let size, let metadata, let timeout, let reuse):
            [2, slot, id] + size.bytes + [metadata] + timeout.bytes + [reuse ? 0x80 : 0]
        case .seal(let slot, let id): [3, slot, id]
        case .abort(let slot, let id): [4, slot, id]
        case .createAndSeal(let slot, let id, let size, let metadata, let timeout, let reuse):
            [5, slot, id] + size.bytes + [metadata] + timeout.bytes + [reuse ? 0x80 : 0]
        case .batch(let slot, let items):
            [6, slot, UInt8(items.count)] + items.flatMap { [$0.id] + $0.size.bytes + [$0.metadata] }
        case .get(let slot, let ids, let timeout, let reuse):
            [7, slot, UInt8(ids.count)] + ids + timeout.bytes + [reuse ? 0x80 : 0]
        case .release(let slot, let ids): [8, slot, UInt8(ids.count)] + ids
        case .contains(let slot, let id): [9, slot, id]
        case .delete(let slot, let ids): [10, slot, UInt8(ids.count)] + ids
        case .evict(let slot, let size): [11, slot] + size.bytes
        case .list(let slot): [12, slot]
        case .stats(let slot): [13, slot]
        case .cancelPrevious(let slot): [14, slot, 0]
        case .cancel(let slot, let requestID): [14, slot, 0x80 | requestID]
        case .subscribe(let slot, let subscription, let filter): [15, slot, subscription] + filter.bytes
        case .unsubscribe(let slot, let subscription): [16, slot, subscription]
        case .advance(let milliseconds): [17, milliseconds & 0x7F]
        case .advanceHundreds(let count): [17, 0x80 | count]
        }
    }
}

func program(_ name: String, _ commands: [Command]) {
    write("EngineCommands", name, commands.flatMap(\.bytes))
}

program("lifecycle", [
    .connect(0), .create(0, id: 1, .small(100)), .seal(0, id: 1), .get(0, [1]), .release(0, [1, 1]),
    .contains(0, id: 1), .list(0), .stats(0), .delete(0, [1]), .contains(0, id: 1),
])
program("fill-and-evict", [
    .createAndSeal(0, id: 0, .u16(20000)), .createAndSeal(0, id: 1, .u16(20000)), .createAndSeal(0, id: 2, .u16(20000)),
    .createAndSeal(0, id: 3, .u16(20000)), .stats(0), .evict(0, .blocks(200)), .list(0),
])
program("capacity-edges", [
    .create(0, id: 0, .capacity), .abort(0, id: 0), .create(0, id: 1, .belowCapacity(1), metadata: 1),
    .seal(0, id: 1), .create(0, id: 2, .aboveCapacity), .create(0, id: 3, .huge(0), metadata: 255),
    .create(1, id: 4, .zero), .seal(1, id: 4), .get(1, [4]), .release(1, [4]),
])
program("waiting-create-served", [
    .create(0, id: 0, .capacity), .create(1, id: 1, .u16(1000), .forever), .abort(0, id: 0), .seal(1, id: 1),
])
program("waiting-create-timeout", [
    .create(0, id: 0, .capacity), .create(1, id: 1, .blocks(10), .milliseconds(20)), .advance(10), .advance(15),
    .stats(1),
])
program("waiting-create-cancel", [
    .create(0, id: 0, .belowCapacity(0)), .create(1, id: 1, .u16(40000), .forever),
    .create(1, id: 2, .small(10), .forever), .cancelPrevious(1), .release(0, [0]), .abort(0, id: 0),
])
program("waiting-get-sealed", [
    .get(1, [1, 2, 1], .forever), .create(0, id: 1, .small(8)), .seal(0, id: 1), .create(0, id: 2, .zero),
    .seal(0, id: 2), .release(1, [1, 1, 2]),
])
program("get-timeout", [
    .create(0, id: 1, .small(8)), .seal(0, id: 1), .get(1, [1, 2], .hundreds(2)), .advanceHundreds(1),
    .advanceHundreds(2), .release(1, [1]),
])
program("get-cancel", [
    .create(0, id: 1, .small(8)), .seal(0, id: 1), .get(1, [1, 5], .forever), .cancelPrevious(1), .list(1),
])
program("reused-request-ids", [
    .get(1, [3], .forever), .get(1, [4], .forever, reuse: true), .create(0, id: 0, .capacity),
    .create(1, id: 5, .small(1), .forever), .create(1, id: 6, .small(1), .forever, reuse: true),
    .createAndSeal(1, id: 3, .small(4), .poll, reuse: true), .disconnect(1),
])
program("wait-limits", [
    .get(2, [1], .forever), .get(2, [2], .forever), .get(2, [3], .forever), .get(2, [4], .forever),
    .get(2, [5], .forever), .create(0, id: 0, .capacity), .create(2, id: 6, .small(1), .forever),
    .create(2, id: 7, .small(1), .forever), .create(2, id: 6, .small(1), .forever), .create(2, id: 7, .small(2), .forever),
    .create(2, id: 1, .small(3), .forever), .disconnect(0),
])
program("subscribe-all", [
    .subscribe(0, 1, .all), .createAndSeal(1, id: 1, .small(3)), .create(1, id: 2, .small(3)), .abort(1, id: 2),
    .delete(1, [1]), .createAndSeal(1, id: 3, .capacity), .createAndSeal(1, id: 4, .small(1)), .unsubscribe(0, 1),
])
program("subscribe-ids-already-sealed", [
    .createAndSeal(1, id: 1, .small(3)), .subscribe(0, 2, .ids([1, 1, 2])), .createAndSeal(1, id: 2, .zero),
    .subscribe(0, 3, .prefix(length: 1, of: 4)), .subscribe(0, 1, .all), .subscribe(0, 0, .all),
    .createAndSeal(1, id: 5, .small(1)), .disconnect(0), .createAndSeal(1, id: 4, .small(1)),
])
program("subscribe-prefix", [
    .subscribe(0, 1, .prefix(length: 1, of: 2)), .createAndSeal(1, id: 2, .small(1)), .createAndSeal(1, id: 3, .small(1)),
    .createAndSeal(1, id: 4, .small(1)), .subscribe(0, 1, .prefix(length: 20, of: 3)), .delete(1, [2, 3, 4]),
])
program("disconnect-cleanup", [
    .create(0, id: 1, .small(50)), .createAndSeal(0, id: 2, .small(50)), .get(0, [2, 2]), .get(0, [3], .forever),
    .subscribe(0, 1, .all), .create(1, id: 0, .capacity, .poll), .create(0, id: 4, .capacity, .forever),
    .disconnect(0), .stats(1), .list(1),
])
program("delete-deferred", [
    .createAndSeal(0, id: 1, .small(10)), .get(1, [1]), .get(2, [1]), .delete(0, [1]), .contains(0, id: 1),
    .release(1, [1]), .release(2, [1]), .contains(0, id: 1), .delete(0, [1]),
])
program("not-creator", [
    .create(0, id: 1, .small(10)), .seal(1, id: 1), .abort(1, id: 1), .delete(1, [1]), .release(1, [1]),
    .seal(0, id: 1), .seal(0, id: 1), .abort(0, id: 1),
])
program("batch", [
    .batch(0, [(1, .small(10), 1), (2, .u16(30000), 0), (1, .small(1), 0)]),
    .batch(1, [(3, .u16(40000), 0), (4, .aboveCapacity, 0), (5, .zero, 0)]), .list(0), .evict(0, .capacity),
])
program("eviction-under-pressure", [
    .createAndSeal(0, id: 0, .u16(30000)), .createAndSeal(0, id: 1, .u16(30000)), .get(1, [0]),
    .createAndSeal(0, id: 2, .u16(30000)), .create(0, id: 3, .u16(30000), .milliseconds(5)), .advance(6),
    .release(1, [0]), .createAndSeal(0, id: 3, .u16(30000), .forever),
])
program("connect-requests", [
    .connect(0), .connect(0), .connect(1), .disconnect(0), .connect(0), .stats(0), .disconnect(3), .disconnect(3),
])
program("unrepresentable-timeouts", [
    .create(0, id: 0, .capacity), .create(1, id: 1, .small(1), .unrepresentable), .get(1, [2], .unrepresentable),
    .advanceHundreds(127), .cancelPrevious(1), .cancel(1, requestID: 2),
])
program("fragmentation", [
    .createAndSeal(0, id: 0, .blocks(100)), .createAndSeal(0, id: 1, .blocks(100)), .createAndSeal(0, id: 2, .blocks(100)),
    .createAndSeal(0, id: 3, .blocks(100)), .createAndSeal(0, id: 4, .blocks(100)), .delete(0, [1, 3]),
    .create(0, id: 5, .blocks(200), .milliseconds(1)), .advance(2), .stats(0),
])

print("wrote \(written) seed files under \(corpus)")
