#if Cluster
extension EtcdClient {
    /// Sets `key` to `value`, under `lease` when it isn't 0.
    public func put(_ key: String, value: [UInt8], lease: Int64 = 0) async throws(EtcdError) {
        _ = try await call("/v3/kv/put", GatewayRequest.Put(key, value: value, lease: lease))
    }

    /// Reads `key`, or every key that starts with it when `prefix`; returns them and the store's revision.
    public func range(_ key: String, prefix: Bool = false) async throws(EtcdError) -> (keys: [EtcdKeyValue], revision: Int64) {
        let answer = try await call("/v3/kv/range", GatewayRequest.KeyRange(key, prefix: prefix))
        let keys = (answer["kvs"] as? [Any] ?? []).compactMap(GatewayJSON.keyValue)
        return (keys, GatewayJSON.revision(answer))
    }

    /// Reads every key that starts with `prefix` in pages of at most `pageSize` keys, each handed to
    /// `page` in key order, all at the first page's revision (one consistent view, without one answer
    /// holding the whole prefix); returns that revision. A compacted revision throws `.compacted`.
    public func rangePages(
        _ prefix: String, pageSize: Int, _ page: ([EtcdKeyValue]) throws(EtcdError) -> Void
    ) async throws(EtcdError) -> Int64 {
        let end = GatewayJSON.base64(rangeEnd(ofPrefix: prefix))
        var from = Array(prefix.utf8), revision: Int64 = 0
        while true {
            let body = GatewayRequest.KeyRange(
                key: GatewayJSON.base64(from), rangeEnd: end, limit: String(max(1, pageSize)), revision: revision == 0 ? nil : String(revision))
            let answer: [String: Any]
            do {
                answer = try await call("/v3/kv/range", body)
            } catch .server(_, let message) where message.contains("compacted") {
                throw .compacted(revision: revision)
            }
            if revision == 0 { revision = GatewayJSON.revision(answer) }
            let raw = answer["kvs"] as? [Any] ?? []
            let keys = raw.compactMap(GatewayJSON.keyValue)
            try page(keys)
            guard answer["more"] as? Bool == true else { return revision }
            // More keys follow but the page held none to continue after: returning here would hand the
            // caller a prefix cut short as if it were all of it.
            guard let last = raw.last as? [String: Any] else {
                throw .malformedResponse("a range page said more keys follow but held none")
            }
            // The next key after the last one read, from its raw bytes: `EtcdKeyValue.key` is decoded
            // text, and a key that isn't UTF-8 would come back as other bytes (a page read again forever,
            // or keys skipped). Each page must start past the one before.
            let next = GatewayJSON.bytes(last["key"]) + [0]
            guard from.lexicographicallyPrecedes(next) else {
                throw .malformedResponse("a range page did not move past its start key")
            }
            from = next
        }
    }

    /// Deletes `key`, or every key that starts with it when `prefix`; returns how many went.
    @discardableResult
    public func delete(_ key: String, prefix: Bool = false) async throws(EtcdError) -> Int64 {
        let answer = try await call("/v3/kv/deleterange", GatewayRequest.KeyRange(key, prefix: prefix))
        return GatewayJSON.int64(answer["deleted"])
    }

    /// Compacts etcd's history up to `revision`: watches can no longer start before it.
    public func compact(revision: Int64) async throws(EtcdError) {
        _ = try await call("/v3/kv/compaction", GatewayRequest.Compaction(revision: String(revision)))
    }

    /// Runs `success` if every compare holds, else `failure`, atomically. At most
    /// ``etcdMaximumOperationsPerTransaction`` operations per branch.
    public func transaction(
        compare: [EtcdCompare], success: [EtcdOperation], failure: [EtcdOperation] = []
    ) async throws(EtcdError) -> EtcdTransactionResult {
        let body = GatewayRequest.Transaction(
            compare: compare.map(GatewayRequest.Compare.init), success: success.map(GatewayRequest.Operation.init),
            failure: failure.map(GatewayRequest.Operation.init))
        let answer = try await call("/v3/kv/txn", body)
        let results = (answer["responses"] as? [Any] ?? []).map { response -> EtcdOperationResult in
            let object = response as? [String: Any] ?? [:]
            if let range = object["response_range"] as? [String: Any] {
                return .range((range["kvs"] as? [Any] ?? []).compactMap(GatewayJSON.keyValue))
            }
            if let deleted = object["response_delete_range"] as? [String: Any] {
                return .deleted(GatewayJSON.int64(deleted["deleted"]))
            }
            return .put
        }
        return EtcdTransactionResult(
            succeeded: answer["succeeded"] as? Bool ?? false, results: results, revision: GatewayJSON.revision(answer))
    }
}
#endif
