import PlasmaCore

/// A sealed object's bytes, read-only, straight from the shared arena.
///
/// Holds one reference in the store: the object can't be evicted or deleted while it lives. The
/// reference goes with `release()` or, failing that, when the buffer is dropped.
public final class ObjectBuffer: @unchecked Sendable {
    // @unchecked: the pointers are immutable and point at sealed (immutable) shared memory; `released`
    // is guarded by `lock`.
    public let id: ObjectID
    public let data: UnsafeRawBufferPointer
    public let metadata: UnsafeRawBufferPointer
    /// Keeps the mapping alive as long as the buffer, and takes the reference back.
    private let owner: any ObjectOwner
    private let lock = Condition()
    private var released = false

    init(id: ObjectID, owner: any ObjectOwner, data: UnsafeRawBufferPointer, metadata: UnsafeRawBufferPointer) {
        self.id = id
        self.owner = owner
        self.data = data
        self.metadata = metadata
    }

    /// Gives the reference back now. The bytes must not be used afterwards.
    public func release() throws(PlasmaClientError) {
        guard takeRelease() else { return }
        try owner.release(id)
    }

    private func takeRelease() -> Bool {
        lock.withLock {
            defer { released = true }
            return !released
        }
    }

    deinit {
        if !released { owner.post(.release(ids: [id])) }
    }
}

/// An object this client created and hasn't sealed: its data is writable until `seal()`.
///
/// Dropped unsealed, it is aborted (it was never published, so nothing is lost); dropped sealed, its
/// creator's reference is released.
public final class MutableObject: @unchecked Sendable {
    // @unchecked: the object's bytes belong to this creator until it seals; `state` is guarded by `lock`.
    public enum State: Sendable { case writable, sealed, finished }

    public let id: ObjectID
    public let data: UnsafeMutableRawBufferPointer
    public let metadata: UnsafeRawBufferPointer
    private let client: PlasmaClient
    private let lock = Condition()
    private var state = State.writable

    init(id: ObjectID, client: PlasmaClient, data: UnsafeMutableRawBufferPointer, metadata: UnsafeRawBufferPointer) {
        self.id = id
        self.client = client
        self.data = data
        self.metadata = metadata
    }

    /// Publishes the object: from now on it is immutable and other clients can get it. The creator's
    /// reference stays until `release()` (or the object is dropped).
    public func seal() throws(PlasmaClientError) {
        guard transition(from: .writable, to: .sealed) else {
            throw .store(.objectAlreadySealed, message: "\(id) is already sealed or released")
        }
        do {
            try client.seal(id)
        } catch {
            _ = transition(from: .sealed, to: .writable)
            throw error
        }
    }

    /// Drops the unsealed object.
    public func abort() throws(PlasmaClientError) {
        guard transition(from: .writable, to: .finished) else {
            throw .store(.objectAlreadySealed, message: "\(id) is sealed; only unsealed objects can be aborted")
        }
        try client.abort(id)
    }

    /// Gives the creator's reference back after sealing.
    public func release() throws(PlasmaClientError) {
        guard transition(from: .sealed, to: .finished) else {
            throw .store(.objectNotSealed, message: "\(id): seal before releasing, or abort")
        }
        try client.release(id)
    }

    private func transition(from: State, to: State) -> Bool {
        lock.withLock {
            guard state == from else { return false }
            state = to
            return true
        }
    }

    deinit {
        switch state {
        case .writable: client.post(.abort(id: id))
        case .sealed: client.post(.release(ids: [id]))
        case .finished: break
        }
    }
}
