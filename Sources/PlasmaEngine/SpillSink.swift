import PlasmaCore

/// One spill or restore the sink has finished: the ticket it was begun with, and whether it worked.
public struct SpillCompletion: Equatable, Sendable {
    /// The ticket of the spill, as given to ``SpillSink/beginSpill(_:_:dataSize:ticket:)``.
    public let ticket: UInt64
    /// The sink holds a copy of the bytes; false: it doesn't, and has said why where it can.
    public let succeeded: Bool

    /// A finished spill.
    public init(ticket: UInt64, succeeded: Bool) {
        self.ticket = ticket
        self.succeeded = succeeded
    }
}

/// Where evicted objects go instead of being dropped, and come back from. The engine decides what to
/// spill and when an object is restorable; the sink keeps the bytes (the server's: a map, or files
/// written by a background thread).
///
/// A spill is asynchronous: `beginSpill` starts it, and the engine keeps the object's bytes allocated
/// and unchanged (the object readable) until ``finishedSpills(waitingForAll:)`` reports its ticket.
/// The server calls ``StoreEngine/spillsFinished()`` when its sink has something to report. Restores
/// are asynchronous the same way, except for a get that won't wait (timeout 0), which restores
/// synchronously. Calls on one id are ordered: a `discard` comes after every `beginSpill` of that
/// id called before it. Failures are counted by the engine (`spill_failures`, `restore_failures`) and
/// explained by the sink where it can (the server's log).
public protocol SpillSink: AnyObject {
    /// Starts keeping a copy of `bytes` (`dataSize` bytes of data, then metadata) under `ticket`. The
    /// bytes stay valid and unchanged until the ticket is reported finished.
    func beginSpill(_ id: ObjectID, _ bytes: UnsafeRawBufferPointer, dataSize: Int, ticket: UInt64)
    /// The spills and restores finished since the last call. With `waitingForAll`, first waits until
    /// every one begun so far has finished (a caller that must answer now: the loop stalls for it).
    func finishedSpills(waitingForAll: Bool) -> [SpillCompletion]
    /// Copies a spilled object back into `buffer` (exactly its size) and forgets it; false when it can't.
    /// Synchronous: for a get that won't wait.
    func restore(_ id: ObjectID, into buffer: UnsafeMutableRawBufferPointer, dataSize: Int) -> Bool
    /// Starts copying a spilled object back into `buffer` (exactly its size) under `ticket`, and forgets
    /// it; reported through ``finishedSpills(waitingForAll:)`` like a spill. The engine keeps `buffer`
    /// allocated and unread until then.
    func beginRestore(_ id: ObjectID, into buffer: UnsafeMutableRawBufferPointer, dataSize: Int, ticket: UInt64)
    /// Forgets a spilled object, or the copy a spill of it is making (deleted, or kept in memory).
    func discard(_ id: ObjectID)
    /// Whether the engine still needs the write under `ticket`: false when a get took the object back
    /// meanwhile (a failure then costs nothing), true when it is evicted again before the write ends
    /// (the same write serves). For what the sink reports only; the copy is discarded separately.
    func spillNeeded(_ needed: Bool, ticket: UInt64)
}

extension SpillSink {
    /// A sink that reports nothing about its writes needn't know.
    public func spillNeeded(_ needed: Bool, ticket: UInt64) {}
}
