import Foundation
import PlasmaCore
import PlasmaWire

/// An object this client created and hasn't sealed yet: its bytes are writable until ``seal()``.
///
/// `MutableObject` is `~Copyable`: ``seal()`` and ``abort()`` consume it, so writing after the seal is a
/// compile-time error ("used after consume"), not a race with readers. Sealing returns the object as
/// an ``ObjectBuffer`` holding the creator's reference. Dropped unsealed, the object is aborted (it was
/// never published, so nothing is lost).
/// ``AsyncPlasmaClient/create(_:dataSize:metadata:waitForSpace:)`` gives the same thing as an
/// ``AsyncMutableObject``, whose `seal()` and `abort()` are `async`.
public struct MutableObject: ~Copyable, Sendable {
    private let pending: PendingObject<PlasmaClient>

    init(_ pending: PendingObject<PlasmaClient>) { self.pending = pending }

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

    /// Copies `bytes` into the data at `offset`, on several threads when they are large (the client's
    /// `parallelCopy`, ``ParallelCopy``).
    ///
    /// - Throws: `PlasmaClientError.outOfBounds` when they don't fit between `offset` and the end.
    public func write(_ bytes: some ContiguousBytes, at offset: Int = 0) throws(PlasmaClientError) {
        try pending.write(bytes, at: offset)
    }

    /// Publishes the object: from now on it is immutable and other clients can get it. Returns it as a
    /// read-only buffer that holds the creator's reference until it is released or dropped.
    ///
    /// If the store refuses the seal, the object is aborted.
    @discardableResult
    public consuming func seal() throws(PlasmaClientError) -> ObjectBuffer {
        let (client, id) = (pending.client, pending.id)
        return try pending.seal { () throws(PlasmaClientError) in try client.seal(id) }
    }

    /// Drops the unsealed object.
    public consuming func abort() throws(PlasmaClientError) {
        let (client, id) = (pending.client, pending.id)
        try pending.abort { () throws(PlasmaClientError) in try client.abort(id) }
    }

    deinit { pending.dropped() }
}

