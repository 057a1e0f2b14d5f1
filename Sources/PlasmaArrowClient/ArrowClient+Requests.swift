import PlasmaCore
import PlasmaWire

/// One call per request, checking that the reply answers it.
extension ArrowClient {
    /// The dialect's hello; returns the store's capacity in bytes.
    @discardableResult
    public func connect() throws -> Int64 {
        let reply = try call(.connect)
        guard case .connect(let capacity) = reply else { throw Failure.unexpected("to Connect: \(reply)") }
        return capacity
    }

    /// Create: the object's writable data bytes (mapping the segment on first sight).
    public func create(_ id: ObjectID, dataSize: Int) throws -> UnsafeMutableRawBufferPointer {
        let reply = try call(.create(id: id, evictIfFull: true, dataSize: UInt64(dataSize), metadataSize: 0, deviceNum: 0))
        guard case .create(let replyID, let spec, let error, _, _) = reply, replyID == id else {
            throw Failure.unexpected("to Create: \(reply)")
        }
        guard error == .ok else { throw Failure.store(error, "Create") }
        return try buffer(spec)
    }

    /// Seal with the zero digest.
    public func seal(_ id: ObjectID) throws {
        let reply = try call(.seal(id: id, digest: Self.digest))
        guard case .seal(let replyID, let error) = reply, replyID == id else { throw Failure.unexpected("to Seal: \(reply)") }
        guard error == .ok else { throw Failure.store(error, "Seal") }
    }

    /// Release; no reply comes (the store never answers one).
    public func release(_ id: ObjectID) throws {
        try send(.release(id: id))
    }

    /// CreateAndSeal of `data`, no metadata.
    public func createAndSeal(_ id: ObjectID, data: [UInt8]) throws {
        let reply = try call(.createAndSeal(id: id, evictIfFull: true, data: data, metadata: [], digest: Self.digest))
        guard case .createAndSeal(let error) = reply else { throw Failure.unexpected("to CreateAndSeal: \(reply)") }
        guard error == .ok else { throw Failure.store(error, "CreateAndSeal") }
    }

    /// CreateAndSealBatch: every id with the same `data`.
    public func createAndSeal(batch ids: [ObjectID], data: [UInt8]) throws {
        let request = ArrowRequest.createAndSealBatch(
            ids: ids, evictIfFull: true, data: Array(repeating: data, count: ids.count),
            metadata: Array(repeating: [], count: ids.count), digests: Array(repeating: Self.digest, count: ids.count))
        let reply = try call(request)
        guard case .createAndSealBatch(let error) = reply else { throw Failure.unexpected("to CreateAndSealBatch: \(reply)") }
        guard error == .ok else { throw Failure.store(error, "CreateAndSealBatch") }
    }

    /// Get with timeout 0: the data bytes of each id, nil for one not present.
    public func get(_ ids: [ObjectID]) throws -> [UnsafeRawBufferPointer?] {
        let reply = try call(.get(ids: ids, timeoutMs: 0))
        guard case .get(let replyIDs, let specs, _, _) = reply, replyIDs == ids else {
            throw Failure.unexpected("to Get: \(reply)")
        }
        return try specs.map { $0.isPresent ? UnsafeRawBufferPointer(try buffer($0)) : nil }
    }

    /// Delete.
    public func delete(_ ids: [ObjectID]) throws {
        let reply = try call(.delete(ids: ids))
        guard case .delete = reply else { throw Failure.unexpected("to Delete: \(reply)") }
    }
}

extension ArrowReply {
    /// The object specs of a get reply; empty for any other reply.
    public var getSpecs: [ArrowObjectSpec] {
        if case .get(_, let specs, _, _) = self { return specs }
        return []
    }
}
