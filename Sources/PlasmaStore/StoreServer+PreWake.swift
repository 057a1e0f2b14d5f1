import PlasmaCore
import PlasmaWire

/// Pre-wake's hooks (TransferPace.swift): large replies arm an expectation, the next frame of their
/// connection times the copy, and the loop's timeout wakes for the expectation.
extension StoreServer {
    /// A reply handing `connection` `bytes` to write or read was just queued.
    func largeReply(_ bytes: Int, _ phase: TransferPace.Phase, on connection: Connection) {
        guard transferPace != nil, bytes >= TransferPace.thresholdBytes else { return }
        let wakeBefore = transferPace?.expectation?.wakeAt
        connection.pendingTransfer = transferPace?.replied(bytes: bytes, phase: phase, now: clock.monotonicNanoseconds())
        if let wakeAt = transferPace?.expectation?.wakeAt, wakeAt != wakeBefore { preWakeTimer?.arm(at: wakeAt) }
    }

    /// Bytes came from `connection`: if it had a large reply, this is the end of its copy.
    func frameArrived(on connection: Connection) {
        guard let pending = connection.pendingTransfer else { return }
        connection.pendingTransfer = nil
        let now = clock.monotonicNanoseconds()
        transferPace?.nextFrame(after: pending, now: now)
        if let wakeAt = transferPace?.expectation?.wakeAt, now < wakeAt { preWakeTimer?.arm(at: 0) }
        transferPace?.fulfilled()
    }

    /// Whether the loop should poll rather than sleep: an expectation's window is open. Before it opens,
    /// the loop sleeps and `preWakeTimer` wakes it.
    func preWakePolls() -> Bool {
        guard transferPace?.expectation != nil else { return false }
        return transferPace?.polls(now: clock.monotonicNanoseconds()) ?? false
    }

    /// A native reply that hands the client a large block (a successful create's, a get's).
    func nativeReplied(_ reply: Reply, type: MessageType, on connection: Connection) {
        guard transferPace != nil else { return }
        switch reply {
        case .created where type == .create:
            largeReply(connection.createBytes, .write, on: connection)
        case .objects(let locations):
            largeReply(locations.reduce(0) { $0 &+ ($1.map { $0.dataSize &+ $0.metadataSize } ?? 0) }, .read, on: connection)
        default:
            break
        }
    }

    /// An Arrow reply that hands the client a large block (a create's, a get's).
    func arrowReplied(_ reply: ArrowReply, on connection: Connection) {
        guard transferPace != nil else { return }
        switch reply {
        case .create(_, let spec, let error, _, _) where error == .ok:
            largeReply(Int(clamping: spec.dataSize) &+ Int(clamping: spec.metadataSize), .write, on: connection)
        case .get(_, let specs, _, _):
            let found = specs.filter { $0.dataSize != ArrowObjectSpec.notFound.dataSize }
            largeReply(found.reduce(0) { $0 &+ Int(clamping: $1.dataSize) &+ Int(clamping: $1.metadataSize) }, .read, on: connection)
        default:
            break
        }
    }
}
