#if Cluster
/// A change a watch reports.
public struct EtcdWatchEvent: Sendable, Equatable {
    /// Put or delete.
    public enum Kind: Sendable, Equatable {
        /// The key was created or changed.
        case put
        /// The key was deleted (or its lease ended).
        case delete
    }

    /// What happened.
    public var kind: Kind
    /// The key after the change (for a delete: the key, without a value).
    public var keyValue: EtcdKeyValue
}

/// The events of one revision or more, as one watch message carries them.
public struct EtcdWatchBatch: Sendable, Equatable {
    /// The revision the message's header gives: watch from `revision + 1` to resume after it.
    public var revision: Int64
    /// The changes, oldest first.
    public var events: [EtcdWatchEvent]
}

extension EtcdClient {
    /// Watches every key that starts with `prefix`, from `startRevision` (0: from now), handing each batch
    /// of events to `handle` in order. Runs until the stream breaks, which it reports by throwing:
    /// `.compacted` when `startRevision` is gone (re-read with ``range(_:prefix:)`` and watch from its
    /// revision + 1), `.unreachable` when the connection ends, `.server` when etcd refused the user's token
    /// (``EtcdError/refusesToken``: dropped, the next watch authenticates again). Cancel the task to stop
    /// it.
    public func watch(
        prefix: String, startRevision: Int64,
        _ handle: @Sendable (EtcdWatchBatch) async -> Void
    ) async throws(EtcdError) -> Never {
        let body = try GatewayJSON.encode(GatewayRequest.Watch(create: .init(
            key: GatewayJSON.base64(prefix), rangeEnd: GatewayJSON.base64(rangeEnd(ofPrefix: prefix)),
            startRevision: startRevision > 0 ? String(startRevision) : nil)))
        try await send("/v3/watch", body, timeout: requestTimeout) { response throws(EtcdError) -> Void in
            if response.status == .unauthorized { throw .server(code: EtcdError.unauthenticatedCode, message: "etcd refused the token") }
            guard response.status == .ok else { throw .server(code: Int(response.status.code), message: "watch refused") }
            var splitter = JSONObjectSplitter()
            do {
                for try await chunk in response.body {
                    for message in try splitter.append(chunk.readableBytesView) {
                        let decode = { @Sendable () throws(EtcdError) in try Self.watchBatch(GatewayJSON.decode(message)) }
                        let batch = message.count < EtcdEventLoop.bigMessage ? try decode() : try await EtcdEventLoop.offLoop(decode)
                        if let batch { await handle(batch) }
                    }
                }
            } catch let error as EtcdError {
                throw error
            } catch {
                throw .unreachable("watch of \(prefix): \(error)")
            }
        }
        throw .unreachable("watch of \(prefix): the stream ended")
    }

    /// The batch a watch message carries; nil for the creation message and progress notices.
    static func watchBatch(_ message: [String: Any]) throws(EtcdError) -> EtcdWatchBatch? {
        if let error = GatewayJSON.error(message) { throw error }
        guard let result = message["result"] as? [String: Any] else {
            throw .malformedResponse("watch message without a result")
        }
        let compacted = GatewayJSON.int64(result["compact_revision"])
        if compacted > 0 { throw .compacted(revision: compacted) }
        if result["canceled"] as? Bool == true {
            // A gRPC status in words: "rpc error: code = Unauthenticated desc = etcdserver: invalid auth
            // token" (`refusesToken` reads the message).
            let reason = result["cancel_reason"] as? String ?? "watch canceled"
            throw .server(code: reason.contains("code = Unauthenticated") ? EtcdError.unauthenticatedCode : 0, message: reason)
        }
        let events = (result["events"] as? [Any] ?? []).compactMap { item -> EtcdWatchEvent? in
            guard let event = item as? [String: Any], let keyValue = GatewayJSON.keyValue(event["kv"]) else { return nil }
            // PUT is the enum's default (0), which the gateway omits.
            return EtcdWatchEvent(kind: event["type"] as? String == "DELETE" ? .delete : .put, keyValue: keyValue)
        }
        guard !events.isEmpty else { return nil }
        return EtcdWatchBatch(revision: GatewayJSON.revision(result), events: events)
    }
}
#endif
