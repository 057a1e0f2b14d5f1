import Foundation
import PlasmaCore

/// A sealed object's bytes, read-only, straight from the shared arena.
///
/// Holds one reference in the store: the object can't be evicted or deleted while the buffer lives.
/// The reference goes back with ``release()`` or, failing that, when the buffer is dropped.
///
/// The bytes are reachable only inside ``withUnsafeBytes(_:)`` and ``withUnsafeMetadata(_:)``, so they
/// can't outlive the reference: once it is released the store may reuse the memory for another object,
/// and an access after ``release()`` stops the program (a precondition) instead of reading it. A release
/// while another thread is inside an access takes effect when that access ends.
public final class ObjectBuffer: @unchecked Sendable {
    // @unchecked: the pointers are immutable and point at sealed (immutable) shared memory; `state` is
    // guarded by `lock`.

    /// The object's id.
    public let id: ObjectID
    private let data: UnsafeRawBufferPointer
    private let metadata: UnsafeRawBufferPointer
    /// Keeps the mapping alive as long as the buffer, and takes the reference back.
    private let owner: any ObjectOwner
    private let lock = Condition()
    private var released = false
    /// Accesses in progress: a release waits for them to end before the reference goes back.
    private var readers = 0

    init(id: ObjectID, owner: any ObjectOwner, data: UnsafeRawBufferPointer, metadata: UnsafeRawBufferPointer) {
        self.id = id
        self.owner = owner
        self.data = data
        self.metadata = metadata
    }

    /// Number of data bytes.
    public var count: Int { data.count }

    /// Number of metadata bytes.
    public var metadataCount: Int { metadata.count }

    /// Calls `body` with the object's data, read-only and in place (no copy). The pointer is valid only
    /// during the call: it must not escape `body`.
    ///
    /// - Precondition: the buffer hasn't been released.
    public func withUnsafeBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try reading(data, body)
    }

    /// Calls `body` with the object's metadata, read-only and in place. The pointer is valid only during
    /// the call.
    ///
    /// - Precondition: the buffer hasn't been released.
    public func withUnsafeMetadata<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try reading(metadata, body)
    }

    /// A copy of the data, which stays valid after the buffer is released.
    public func copyBytes() -> [UInt8] { withUnsafeBytes { Array($0) } }

    /// A copy of the metadata.
    public func copyMetadata() -> [UInt8] { withUnsafeMetadata { Array($0) } }

    /// A copy of the data as `Data`.
    public func copyData() -> Data { withUnsafeBytes { Data($0) } }

    /// Gives the reference back now; the bytes are unreachable from then on. Releasing twice does nothing.
    public func release() throws(PlasmaClientError) {
        let sendNow = lock.withLock { () -> Bool in
            defer { released = true }
            return !released && readers == 0
        }
        if sendNow { try owner.release(id) }
    }

    private func reading<Result, Failure: Error>(
        _ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        lock.withLock {
            precondition(!released, "ObjectBuffer \(id) read after release(): the store may have reused its memory")
            readers += 1
        }
        defer {
            // The last access to end after a release() during it sends the release.
            let sendNow = lock.withLock { () -> Bool in
                readers -= 1
                return released && readers == 0
            }
            if sendNow { owner.post(.release(ids: [id])) }
        }
        return try body(bytes)
    }

    deinit {
        if !released { owner.post(.release(ids: [id])) }
    }
}
