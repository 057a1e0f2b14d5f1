import Foundation
import PlasmaCore
import PlasmaWire

/// The state behind a ``MutableObject`` or an ``AsyncMutableObject``: what the store gave for it, and
/// whether it is still this client's to finish (a consumed object's deinit still runs, and must do
/// nothing then). The seal and abort requests themselves are the owner's (blocking or async).
final class PendingObject<Client: ObjectOwner>: @unchecked Sendable {
    // @unchecked: `data` is this creator's until the seal; `finished` is only touched by the consuming
    // calls and the deinit of the one object that owns this, which can't run concurrently.
    let id: ObjectID
    let data: UnsafeMutableRawBufferPointer
    let metadataSize: Int
    let client: Client
    private let location: ObjectLocation
    private var finished = false

    init(id: ObjectID, location: ObjectLocation, data: UnsafeMutableRawBufferPointer, client: Client) {
        self.id = id
        self.location = location
        self.data = data
        self.metadataSize = location.metadataSize
        self.client = client
    }

    /// Copies `bytes` in at `offset`, or throws `outOfBounds` when they don't fit.
    func write(_ bytes: some ContiguousBytes, at offset: Int) throws(PlasmaClientError) {
        let fits = bytes.withUnsafeBytes { source -> Bool in
            guard offset >= 0, offset <= data.count, source.count <= data.count - offset else { return false }
            if source.count > 0 {
                client.parallelCopy.copy(into: data.baseAddress! + offset, from: source.baseAddress!, count: source.count)
            }
            return true
        }
        if !fits {
            let count = bytes.withUnsafeBytes(\.count)
            throw .outOfBounds("\(count) bytes at offset \(offset) don't fit the \(data.count) bytes of \(id)")
        }
    }

    func seal(_ request: () throws(PlasmaClientError) -> Void) throws(PlasmaClientError) -> ObjectBuffer {
        // The read-only view first: once sealed, nothing may fail before the buffer owns the reference.
        let bytes = try client.arena.readableBytes(location, id: id)
        try request()  // on failure `finished` stays false and dropped() aborts
        finished = true
        // The creator's reference moves to the buffer, which reads through the read-only mapping.
        return ObjectBuffer(id: id, owner: client, data: bytes.data, metadata: bytes.metadata)
    }

    func seal(_ request: () async throws(PlasmaClientError) -> Void) async throws(PlasmaClientError) -> ObjectBuffer {
        let bytes = try client.arena.readableBytes(location, id: id)
        do {
            try await request()
        } catch {
            // Cancelled while the seal was on its way, the object may be sealed all the same: the abort
            // undoes an unsealed one, and if it was sealed (the store refuses the abort) the release
            // gives the creator's reference back. Sent in this order, seen by the store in this order.
            finished = true
            client.post(.abort(id: id))
            client.post(.release(ids: [id]))
            throw error
        }
        finished = true
        return ObjectBuffer(id: id, owner: client, data: bytes.data, metadata: bytes.metadata)
    }

    func abort(_ request: () throws(PlasmaClientError) -> Void) throws(PlasmaClientError) {
        finished = true
        try request()
    }

    func abort(_ request: () async throws(PlasmaClientError) -> Void) async throws(PlasmaClientError) {
        finished = true
        try await request()
    }

    func dropped() {
        if !finished { client.post(.abort(id: id)) }
    }
}
