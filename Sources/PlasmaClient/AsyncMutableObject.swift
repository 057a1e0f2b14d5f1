import Foundation
import PlasmaCore
import PlasmaWire

/// An object an ``AsyncPlasmaClient`` created and hasn't sealed yet: the async twin of
/// ``MutableObject``, with the same rules.
///
/// `~Copyable`: ``seal()`` and ``abort()`` consume it, so writing after the seal doesn't compile.
/// Sealing returns the object as an ``ObjectBuffer`` holding the creator's reference. Dropped unsealed,
/// the object is aborted. If the task is cancelled during ``seal()``, the object is aborted (or, if the
/// store had sealed it already, its reference is given back) and the seal throws
/// ``PlasmaClientError/cancelled``.
public struct AsyncMutableObject: ~Copyable, Sendable {
    private let pending: PendingObject<AsyncPlasmaClient>

    init(_ pending: PendingObject<AsyncPlasmaClient>) { self.pending = pending }

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
    @discardableResult
    public consuming func seal() async throws(PlasmaClientError) -> ObjectBuffer {
        let client = pending.client
        let id = pending.id
        return try await pending.seal { () async throws(PlasmaClientError) in
            try client.expectDone(try await client.call(.seal(id: id)))
        }
    }

    /// Drops the unsealed object.
    public consuming func abort() async throws(PlasmaClientError) {
        let client = pending.client
        let id = pending.id
        try await pending.abort { () async throws(PlasmaClientError) in
            try client.expectDone(try await client.call(.abort(id: id)))
        }
    }

    deinit { pending.dropped() }
}
