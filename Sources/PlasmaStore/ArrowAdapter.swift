import PlasmaCore
import PlasmaEngine
import PlasmaWire

/// What the server does with one Arrow request once the adapter has run it: the reply to write (with
/// the arena's fd after it when `passingArena`), and a warning to log when the store ignored a client's
/// mistake where Arrow's store aborted.
struct ArrowResponse {
    var reply: ArrowReply?
    var passingArena = false
    var warning: String?
}

/// The Arrow Plasma dialect (pyarrow 11, libplasma 11) over the engine. Each request becomes engine
/// commands, each outcome an Arrow reply; what differs from native lives here:
/// - references: Arrow's store keeps a *set* of objects per client (`.atMostOnePerObject`);
/// - creates never wait: they evict in bulk (the engine's immediate creates, Arrow's `RequireSpace`);
/// - a client may ask for a quota once (`set_client_options`), granted while 30 % stays for others;
/// - delete of an unsealed object is deferred until it is sealed (Arrow's deletion cache);
/// - seals carry an 8-byte digest that list and notifications report;
/// - error codes are Arrow's: `PlasmaError`, SealReply's 0...3, no error field on abort.
/// Per-connection state (pending gets, the notification socket) lives in `ArrowSession`.
final class ArrowAdapter {
    /// Arrow's `kGlobalLruReserveFraction`: quotas may leave no less than this share of the capacity.
    static let globalReserveFraction = 0.3
    let engine: StoreEngine
    /// Arrow clients know the arena as one segment named by the arena's fd number: open for the store's
    /// whole life, so never reused for another file (Arrow clients cache mappings by that number).
    let segment: Int32
    /// Arrow's mmap_size includes its 8-byte gap (`kMmapRegionsGap`): clients map mmap_size - 8 bytes.
    let mmapSize: Int64
    /// A GetReply's segment lists when it found anything: made once, shared by every reply.
    private let segments: [Int32]
    private let mmapSizes: [Int64]
    /// `set_client_options` names, for the debug string.
    private var names: [ClientID: String] = [:]

    init(engine: StoreEngine, segment: Int32, arenaSize: Int) {
        self.engine = engine
        self.segment = segment
        self.mmapSize = Int64(arenaSize) + 8
        segments = [segment]
        mmapSizes = [mmapSize]
    }

    /// The connection turned out to speak Arrow: Arrow's reference rules apply to it from now on.
    func adopt(_ client: ClientID) {
        engine.setReferencePolicy(.atMostOnePerObject, for: client)
    }

    func clientLeft(_ client: ClientID) { names[client] = nil }

    // MARK: Requests

    func handle(_ request: ArrowRequest, session: ArrowSession, client: ClientID) -> ArrowResponse {
        switch request {
        case .connect:
            return ArrowResponse(reply: .connect(memoryCapacity: Int64(engine.capacity)))

        case .create(let id, let evictIfFull, let dataSize, let metadataSize, let deviceNum):
            // Arrow's wheels have no CUDA: device_num != 0 is OutOfMemory there too.
            guard deviceNum == 0, let data = Int(exactly: dataSize), let metadata = Int(exactly: metadataSize) else {
                return Self.createFailed(id, .outOfMemory)
            }
            switch engine.createImmediately(id, dataSize: data, metadataSize: metadata, evictIfFull: evictIfFull, client: client) {
            case .success(let location):
                return ArrowResponse(
                    reply: .create(id: id, spec: spec(location), error: .ok, storeFd: segment, mmapSize: mmapSize),
                    passingArena: true)
            case .failure(let error):
                return Self.createFailed(id, Self.createError(error))
            }

        case .createAndSeal(let id, let evictIfFull, let data, let metadata, let digest):
            let result = engine.createAndSealImmediately(
                InlineObject(id: id, data: data, metadata: metadata), digest: ArrowDigest.value(digest),
                evictIfFull: evictIfFull, client: client)
            return ArrowResponse(reply: .createAndSeal(error: Self.createError(result)))

        case .createAndSealBatch(let ids, let evictIfFull, let data, let metadata, let digests):
            let batch = ids.indices.map { InlineObject(id: ids[$0], data: data[$0], metadata: metadata[$0]) }
            let result = engine.createAndSealImmediatelyAll(
                batch, digests: digests.map(ArrowDigest.value), evictIfFull: evictIfFull, client: client)
            return ArrowResponse(reply: .createAndSealBatch(error: Self.createError(result)))

        case .abort(let id):
            // AbortReply has no error field; Arrow's store aborted on a bad abort. Log and echo the id.
            var response = ArrowResponse(reply: .abort(id: id))
            if case .failure(let error) = engine.abort(id, client: client) {
                response.warning = "Arrow abort of \(id.hex) refused: \(error.message)"
            }
            return response

        case .seal(let id, let digest):
            var response = ArrowResponse(reply: .seal(id: id, error: .ok))
            if case .failure(let error) = engine.seal(id, digest: ArrowDigest.value(digest), client: client) {
                response.reply = .seal(id: id, error: Self.sealError(error.status))
                response.warning = "Arrow seal of \(id.hex) refused: \(error.status.summary)"
            }
            return response

        case .get(let ids, let timeoutMs):
            let ticket = session.nextGetTicket()
            switch engine.get(ids, timeoutMilliseconds: timeoutMs, client: client, ticket: ticket) {
            case .answered(let locations): return getReply(ids, .success(locations))
            case .waiting:
                session.waitFor(ticket, ids: ids)
                return ArrowResponse()
            case .failed(let error): return getReply(ids, .failure(error))
            }

        case .release(let id):
            // No reply in Arrow's protocol; Arrow's store aborted on an unheld release.
            let status = engine.release(id, client: client)
            return ArrowResponse(warning: status == .ok ? nil : "Arrow release of \(id.hex) ignored: \(status.summary)")

        case .delete(let ids):
            return ArrowResponse(reply: .delete(ids: ids, errors: ids.map { Self.deleteError(engine.delete($0, deferringUnsealed: true)) }))

        case .contains(let id):
            return ArrowResponse(reply: .contains(id: id, hasObject: engine.contains(id)))

        case .list:
            return ArrowResponse(reply: .list(list()))

        case .evict(let numBytes):
            let (bytes, _) = engine.evict(atLeast: Int(clamping: numBytes))
            return ArrowResponse(reply: .evict(numBytes: UInt64(bytes)))

        case .subscribe:
            // No reply; the client's notification fd follows in a 1-byte message of its own.
            session.awaitingSubscribeDescriptor = true
            return ArrowResponse()

        case .setOptions(let name, let quota):
            // A negative quota is refused (Arrow took it and grew its global pool).
            names[client] = name
            let granted = Int(exactly: quota).map { engine.grantQuota($0, to: client, leaving: Self.globalReserveFraction) } ?? false
            return ArrowResponse(reply: .setOptions(error: granted ? .ok : .outOfMemory),
                                 warning: granted ? nil : "Arrow quota of \(quota) bytes for '\(name)' refused")

        case .getDebugString:
            return ArrowResponse(reply: .getDebugString(debugString()))

        case .refreshLRU(let ids):
            engine.touch(ids)
            return ArrowResponse(reply: .refreshLRU)
        }
    }

    /// The engine answered an Arrow get (at once, on the last seal it waited for, or at its timeout);
    /// nil for a ticket this session doesn't know.
    func getAnswered(_ answer: Result<[ObjectLocation?], EngineError>, ticket: UInt64, session: ArrowSession) -> ArrowResponse? {
        guard let ids = session.finishGet(ticket) else { return nil }
        return getReply(ids, answer)
    }

    /// The GetReply for `ids` (request order) from the engine's answer.
    private func getReply(_ ids: [ObjectID], _ answer: Result<[ObjectLocation?], EngineError>) -> ArrowResponse {
        var specs: [ArrowObjectSpec]
        var warning: String?
        switch answer {
        case .success(let found) where found.count == ids.count: specs = found.map { $0.map(spec) ?? .notFound }
        case .success: specs = Array(repeating: .notFound, count: ids.count)
        case .failure(let error):
            specs = Array(repeating: .notFound, count: ids.count)
            warning = "Arrow get answered as not found: \(error.message)"
        }
        let found = specs.contains { $0.isPresent }
        return ArrowResponse(
            reply: .get(ids: ids, specs: specs, storeFds: found ? segments : [], mmapSizes: found ? mmapSizes : []),
            passingArena: found, warning: warning)
    }

    // MARK: Notifications

    /// An engine event as an Arrow notification: seals and removals; aborts are not announced in
    /// Arrow's protocol (nil).
    func notification(for event: ObjectEvent) -> ArrowNotifier.Pending? {
        switch event {
        case .sealed(let id, let dataSize, let metadataSize):
            .sealed(id: id, dataSize: Int64(dataSize), metadataSize: Int64(metadataSize), digest: engine.digest(of: id))
        case .deleted(let id), .evicted(let id):
            .deleted(id: id)
        case .aborted, .overflow:
            nil
        }
    }

    /// What a new subscriber is told first when taken at once (a small table, or with a spill store:
    /// StoreServer+ArrowSnapshot.swift): one seal notification per sealed object, in table order
    /// (Arrow's store walked its hash map: no order was ever promised). Compact entries, encoded only
    /// as the subscriber's socket drains (ArrowNotifier).
    func sealedSnapshot() -> [ArrowNotifier.Pending] {
        var sealed: [ArrowNotifier.Pending] = []
        sealed.reserveCapacity(engine.sealedCount)
        engine.forEachSealed { id, dataSize, metadataSize, digest in
            sealed.append(.sealed(id: id, dataSize: Int64(dataSize), metadataSize: Int64(metadataSize), digest: digest))
        }
        return sealed
    }

    // MARK: Arrow's views

    /// Every object, oldest first, as Arrow's ListReply reports it: times in whole seconds, the digest
    /// empty while unsealed (pyarrow derives "created"/"sealed" from that), construct_duration -1 then.
    /// Spilled objects follow (Arrow's EVICTED entries look sealed there too).
    func list() -> [ArrowObjectInfo] {
        let snapshots = engine.objectSnapshots()
        let present = snapshots.filter { !$0.isSpilled }.sorted { $0.createdAtMonotonicNanoseconds < $1.createdAtMonotonicNanoseconds }
        return (present + snapshots.filter(\.isSpilled)).map { object in
            let info = object.info
            let sealed = info.state == .sealed
            return ArrowObjectInfo(
                objectID: info.id, dataSize: Int64(info.dataSize), metadataSize: Int64(info.metadataSize),
                refCount: Int32(clamping: info.referenceCount), createTime: info.createdAtNanoseconds / 1_000_000_000,
                constructDuration: sealed ? info.sealDurationNanoseconds / 1_000_000_000 : -1,
                digest: sealed ? ArrowDigest.bytes(object.digest) : [])
        }
    }

    /// Any readable text will do for pyarrow's `debug_string()`; this mirrors what Arrow's listed.
    func debugString() -> String {
        let statistics = engine.statistics
        let quotas = engine.grantedQuotas
        var lines = [
            "(global lru) capacity: \(engine.capacity - quotas.total)",
            "(global lru) used: \(statistics.bytesInUse) bytes of \(engine.capacity)",
            "(global lru) num objects: \(engine.objectCount) (\(statistics.evictableObjects) evictable)",
            "(global lru) num evictions: \(statistics.evictedObjects)",
            "(global lru) bytes evicted: \(statistics.evictedBytes)",
            "spilled objects: \(statistics.spilledObjects) (\(statistics.spilledBytes) bytes)",
            "clients with quota: \(quotas.byClient.count)",
        ]
        for (client, quota) in quotas.byClient {
            let name = names[client] ?? ""
            lines.append("(\(name.isEmpty ? "\(client)" : name)) quota: \(quota)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func spec(_ location: ObjectLocation) -> ArrowObjectSpec {
        ArrowObjectSpec(
            segmentIndex: segment, dataOffset: UInt64(location.offset), dataSize: UInt64(location.dataSize),
            metadataOffset: UInt64(location.offset + location.dataSize), metadataSize: UInt64(location.metadataSize))
    }

    // MARK: Arrow's error codes

    /// plasma_object is dereferenced even on error: send it zeroed. No fd follows.
    private static func createFailed(_ id: ObjectID, _ error: ArrowPlasmaError) -> ArrowResponse {
        let zero = ArrowObjectSpec(segmentIndex: 0, dataOffset: 0, dataSize: 0, metadataOffset: 0, metadataSize: 0)
        return ArrowResponse(reply: .create(id: id, spec: zero, error: error, storeFd: 0, mmapSize: 0))
    }

    /// Creates fail as ObjectExists or, for every other reason (too large, no room, over quota), OutOfMemory.
    static func createError(_ error: EngineError) -> ArrowPlasmaError {
        error.status == .objectExists ? .objectExists : .outOfMemory
    }

    static func createError(_ result: Result<Void, EngineError>) -> ArrowPlasmaError {
        switch result {
        case .success: .ok
        case .failure(let error): createError(error)
        }
    }

    /// SealReply's error must be 0...3 (pyarrow aborts on others): already sealed reads as "exists",
    /// anything else (unknown id, not the creator) as "not found".
    static func sealError(_ status: PlasmaStatus) -> ArrowPlasmaError {
        switch status {
        case .ok: .ok
        case .objectAlreadySealed: .objectExists
        default: .objectNotFound
        }
    }

    /// Arrow's delete: OK, ObjectNotFound, ObjectNotSealed (deferred until sealed) or ObjectInUse
    /// (deferred until released).
    static func deleteError(_ outcome: DeleteOutcome) -> ArrowPlasmaError {
        switch outcome {
        case .deleted: .ok
        case .deferredUntilReleased: .objectInUse
        case .deferredUntilSealed, .notSealed: .objectNotSealed
        case .notFound: .objectNotFound
        }
    }
}

/// Arrow's 8-byte seal digest (XXH64 the Arrow client computed) as the engine keeps it: a little-endian
/// `UInt64`. Native seals carry none: 0, i.e. 8 zero bytes, not an empty digest, because pyarrow takes
/// an empty digest to mean "not sealed yet".
enum ArrowDigest {
    static func value(_ bytes: [UInt8]) -> UInt64 {
        var value: UInt64 = 0
        for (index, byte) in bytes.prefix(8).enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
        return value
    }

    static func bytes(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }
}
