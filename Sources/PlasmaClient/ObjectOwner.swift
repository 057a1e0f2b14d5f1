import PlasmaCore
import PlasmaWire

/// A client that hands out buffers: it owns the arena mapping they point into and takes their
/// references back. Reply handling that both the blocking and the async client share lives here.
protocol ObjectOwner: AnyObject, Sendable {
    var arena: ArenaMapping { get }
    /// How caller bytes are copied into objects (`PendingObject.write`).
    var parallelCopy: ParallelCopy { get }
    /// Sends without waiting for the reply (releases and aborts from deinit).
    func post(_ request: Request)
    /// Gives back one reference now (`ObjectBuffer.release()`).
    func release(_ id: ObjectID) throws(PlasmaClientError)
}

extension ObjectOwner {
    /// Turns a get reply into buffers, one per id in order (nil where not sealed). A location outside
    /// the arena is a protocol violation: every reference the reply gave is handed back first.
    func buffers(_ ids: [ObjectID], _ reply: Reply) throws(PlasmaClientError) -> [ObjectBuffer?] {
        guard case .objects(let locations) = reply, locations.count == ids.count else {
            throw failure(reply, expected: "\(ids.count) objects")
        }
        var bytes: [(data: UnsafeRawBufferPointer, metadata: UnsafeRawBufferPointer)?] = []
        bytes.reserveCapacity(ids.count)
        do {
            for (id, location) in zip(ids, locations) {
                bytes.append(try location.map { location throws(PlasmaClientError) in try arena.readableBytes(location, id: id) })
            }
        } catch {
            post(.release(ids: zip(ids, locations).filter { $0.1 != nil }.map(\.0)))
            throw error
        }
        return zip(ids, bytes).map { id, bytes in
            bytes.map { ObjectBuffer(id: id, owner: self, data: $0.data, metadata: $0.metadata) }
        }
    }

    /// The writable object behind a create reply; aborts it if the store's offset can't be trusted.
    func writableBytes(_ id: ObjectID, dataSize: Int, metadata: [UInt8], reply: Reply) throws(PlasmaClientError)
        -> (location: ObjectLocation, bytes: (data: UnsafeMutableRawBufferPointer, metadata: UnsafeRawBufferPointer))
    {
        guard case .created(let offset) = reply else { throw failure(reply, expected: "created") }
        let bytes: (data: UnsafeMutableRawBufferPointer, metadata: UnsafeMutableRawBufferPointer)
        do {
            bytes = try arena.writableBytes(at: offset, dataSize: dataSize, metadataSize: metadata.count, id: id)
        } catch {
            post(.abort(id: id))
            throw error
        }
        metadata.withUnsafeBytes { if $0.count > 0 { bytes.metadata.copyMemory(from: $0) } }
        let location = ObjectLocation(offset: offset, dataSize: dataSize, metadataSize: metadata.count)
        return (location, (bytes.data, UnsafeRawBufferPointer(bytes.metadata)))
    }

    /// Sizes go on the wire unsigned: a negative one is refused here, before anything is sent, instead
    /// of trapping in the conversion.
    func checkSize(_ size: Int, _ what: String) throws(PlasmaClientError) {
        guard size >= 0 else { throw .invalidArgument("\(what) must be at least 0, got \(size)") }
    }

    func expectDone(_ reply: Reply) throws(PlasmaClientError) {
        guard case .done = reply else { throw failure(reply, expected: "done") }
    }

    func statuses(_ reply: Reply, count: Int) throws(PlasmaClientError) -> [PlasmaStatus] {
        guard case .statuses(let statuses) = reply, statuses.count == count else {
            throw failure(reply, expected: "\(count) statuses")
        }
        return statuses
    }

    func containsReply(_ reply: Reply) throws(PlasmaClientError) -> Bool {
        guard case .contains(let present) = reply else { throw failure(reply, expected: "contains") }
        return present
    }

    func evictedReply(_ reply: Reply) throws(PlasmaClientError) -> (bytes: Int, objects: Int) {
        guard case .evicted(let bytes, let objects) = reply else { throw failure(reply, expected: "evicted") }
        return (bytes, objects)
    }

    func listReply(_ reply: Reply) throws(PlasmaClientError) -> [ObjectInfo] {
        switch reply {
        case .list(let infos), .listWithOrigins(let infos): return infos
        default: throw failure(reply, expected: "list")
        }
    }

    func statisticsReply(_ reply: Reply) throws(PlasmaClientError) -> StoreStatistics {
        guard case .stats(let statistics) = reply else { throw failure(reply, expected: "stats") }
        return statistics
    }

    func failure(_ reply: Reply, expected: String) -> PlasmaClientError {
        if case .failure(let status, let message) = reply { return .store(status, message: message) }
        return .protocolViolation("expected \(expected), got \(reply)")
    }
}
