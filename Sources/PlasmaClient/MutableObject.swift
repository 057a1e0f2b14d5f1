import Foundation
import PlasmaCore
import PlasmaWire

/// An object this client created and hasn't sealed yet: its bytes are writable until ``seal()``.
///
/// `MutableObject` is `~Copyable`: ``seal()`` and ``abort()`` consume it, so writing after the seal is a
/// compile-time error ("used after consume"), not a race with readers. Sealing returns the object as
/// an ``ObjectBuffer`` holding the creator's reference. Dropped unsealed, the object is aborted (it was
/// never published, so nothing is lost).
public struct MutableObject: ~Copyable, Sendable {
    private let pending: PendingObject

    init(_ pending: PendingObject) { self.pending = pending }

    /// The object's id.
    public var id: ObjectID { pending.id }

    /// Number of data bytes.
    public var count: Int { pending.data.count }

    /// Number of metadata bytes (given at create; already written).
    public var metadataCount: Int { pending.metadataSize }

    /// Calls `body` with the object's data, writable and in place in the shared arena. The pointer is
    /// valid only during the call: it must not escape `body`.
    @discardableResult
    public func withUnsafeMutableBytes<Result, Failure: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(pending.data)
    }

    /// Copies `bytes` into the data at `offset`.
    ///
    /// - Throws: `PlasmaClientError.outOfBounds` when they don't fit between `offset` and the end.
    public func write(_ bytes: some ContiguousBytes, at offset: Int = 0) throws(PlasmaClientError) {
        let data = pending.data
        let fits = bytes.withUnsafeBytes { source -> Bool in
            guard offset >= 0, offset <= data.count, source.count <= data.count - offset else { return false }
            if source.count > 0 { (data.baseAddress! + offset).copyMemory(from: source.baseAddress!, byteCount: source.count) }
            return true
        }
        if !fits {
            let count = bytes.withUnsafeBytes(\.count)
            throw .outOfBounds("\(count) bytes at offset \(offset) don't fit the \(data.count) bytes of \(id)")
        }
    }

    /// Publishes the object: from now on it is immutable and other clients can get it. Returns it as a
    /// read-only buffer that holds the creator's reference until it is released or dropped.
    ///
    /// If the store refuses the seal, the object is aborted.
    @discardableResult
    public consuming func seal() throws(PlasmaClientError) -> ObjectBuffer {
        try pending.seal()
    }

    /// Drops the unsealed object.
    public consuming func abort() throws(PlasmaClientError) {
        try pending.abort()
    }

    deinit { pending.dropped() }
}

/// The state behind a ``MutableObject``: what the store gave for it, and whether it is still this
/// client's to finish (a consumed MutableObject's deinit still runs, and must do nothing then).
final class PendingObject: @unchecked Sendable {
    // @unchecked: `data` is this creator's until the seal; `finished` is only touched by the consuming
    // calls and the deinit of the one MutableObject that owns this, which can't run concurrently.
    let id: ObjectID
    let data: UnsafeMutableRawBufferPointer
    let metadataSize: Int
    private let location: ObjectLocation
    private let client: PlasmaClient
    private var finished = false

    init(id: ObjectID, location: ObjectLocation, data: UnsafeMutableRawBufferPointer, client: PlasmaClient) {
        self.id = id
        self.location = location
        self.data = data
        self.metadataSize = location.metadataSize
        self.client = client
    }

    func seal() throws(PlasmaClientError) -> ObjectBuffer {
        // The read-only view first: once sealed, nothing may fail before the buffer owns the reference.
        let bytes = try client.arena.readableBytes(location, id: id)
        try client.seal(id)  // on failure `finished` stays false and dropped() aborts
        finished = true
        // The creator's reference moves to the buffer, which reads through the read-only mapping.
        return ObjectBuffer(id: id, owner: client, data: bytes.data, metadata: bytes.metadata)
    }

    func abort() throws(PlasmaClientError) {
        finished = true
        try client.abort(id)
    }

    func dropped() {
        if !finished { client.post(.abort(id: id)) }
    }
}
