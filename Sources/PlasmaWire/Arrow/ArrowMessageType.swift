/// Arrow Plasma's `flatbuf::MessageType` (an int64 in the frame header), numbered as in pyarrow 11.
public enum ArrowMessageType: Int64, Sendable, CaseIterable {
    /// The store's own marker for EOF; never sent.
    case disconnectClient = 0
    case createRequest = 1
    case createReply = 2
    case createAndSealRequest = 3
    case createAndSealReply = 4
    case abortRequest = 5
    case abortReply = 6
    case sealRequest = 7
    case sealReply = 8
    case getRequest = 9
    case getReply = 10
    /// Never answered.
    case releaseRequest = 11
    /// Defined but never sent.
    case releaseReply = 12
    case deleteRequest = 13
    case deleteReply = 14
    case containsRequest = 15
    case containsReply = 16
    case listRequest = 17
    case listReply = 18
    case connectRequest = 19
    case connectReply = 20
    case evictRequest = 21
    case evictReply = 22
    /// Followed by one file descriptor; never answered.
    case subscribeRequest = 23
    /// Unused (the C++ store aborts on it).
    case unsubscribeRequest = 24
    /// Unused remnants of the old plasma manager.
    case dataRequest = 25
    case dataReply = 26
    /// The table name of notifications; never framed as a message.
    case notification = 27
    case setOptionsRequest = 28
    case setOptionsReply = 29
    case getDebugStringRequest = 30
    case getDebugStringReply = 31
    case createAndSealBatchRequest = 32
    case createAndSealBatchReply = 33
    case refreshLRURequest = 34
    case refreshLRUReply = 35
}

/// Arrow Plasma's `flatbuf::PlasmaError` (an int32 in replies).
///
/// The pyarrow client aborts the process on any `error` other than 0...3 in a reply it checks, so
/// `objectNotSealed` and `objectInUse` belong only in `DeleteReply.errors`.
public enum ArrowPlasmaError: Int32, Sendable, CaseIterable {
    case ok = 0
    case objectExists = 1
    case objectNotFound = 2
    case outOfMemory = 3
    case objectNotSealed = 4
    case objectInUse = 5
}

extension WireError {
    /// An Arrow message type this decoder doesn't accept in this direction.
    static func unknownArrowType(_ type: Int64) -> WireError {
        if let small = UInt16(exactly: type) { return .unknownMessageType(small) }
        return .invalidValue("unknown Arrow message type \(type)")
    }
}
