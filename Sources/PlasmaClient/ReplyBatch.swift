import PlasmaWire

/// Requests sent together whose replies are handed on one by one, on the read loop's thread, in the
/// order they arrive: the order the store answered them (`AsyncConnection.callEach`). Nothing between
/// the socket and `receive` can reorder them, unlike tasks resumed one per reply.
final class ReplyBatch: Sendable {
    /// What `receive` gets: a reply with the index of its request, or the connection's failure (once).
    typealias Answer = Result<(index: Int, reply: Reply), PlasmaClientError>

    let requests: [Request]
    /// Consecutive, one per request in order.
    let requestIDs: Range<UInt64>
    /// Returns false to stop: the requests still unanswered are then withdrawn in the store.
    let receive: @Sendable (Answer) -> Bool

    init(_ requests: [Request], requestIDs: Range<UInt64>, receive: @escaping @Sendable (Answer) -> Bool) {
        self.requests = requests
        self.requestIDs = requestIDs
        self.receive = receive
    }

    func index(of requestID: UInt64) -> Int { Int(requestID - requestIDs.lowerBound) }
}
