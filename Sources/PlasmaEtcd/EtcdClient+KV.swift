#if Cluster
extension EtcdClient {
    /// Sets `key` to `value`, under `lease` when it isn't 0.
    public func put(_ key: String, value: [UInt8], lease: Int64 = 0) async throws(EtcdError) {
        _ = try await call("/v3/kv/put", Self.operationBody(.put(key: key, value: value, lease: lease)))
    }

    /// Reads `key`, or every key that starts with it when `prefix`; returns them and the store's revision.
    public func range(_ key: String, prefix: Bool = false) async throws(EtcdError) -> (keys: [EtcdKeyValue], revision: Int64) {
        let answer = try await call("/v3/kv/range", Self.operationBody(.range(key: key, prefix: prefix)))
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
            var body: [String: Any] = ["key": GatewayJSON.base64(from), "range_end": end, "limit": String(max(1, pageSize))]
            if revision != 0 { body["revision"] = String(revision) }
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
        let answer = try await call("/v3/kv/deleterange", Self.operationBody(.delete(key: key, prefix: prefix)))
        return GatewayJSON.int64(answer["deleted"])
    }

    /// Compacts etcd's history up to `revision`: watches can no longer start before it.
    public func compact(revision: Int64) async throws(EtcdError) {
        _ = try await call("/v3/kv/compaction", ["revision": String(revision)])
    }

    /// Runs `success` if every compare holds, else `failure`, atomically. At most
    /// ``etcdMaximumOperationsPerTransaction`` operations per branch.
    public func transaction(
        compare: [EtcdCompare], success: [EtcdOperation], failure: [EtcdOperation] = []
    ) async throws(EtcdError) -> EtcdTransactionResult {
        let body: [String: Any] = [
            "compare": compare.map(Self.compareBody),
            "success": success.map(Self.requestOp),
            "failure": failure.map(Self.requestOp),
        ]
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

    static func operationBody(_ operation: EtcdOperation) -> [String: Any] {
        switch operation {
        case .put(let key, let value, let lease):
            var body: [String: Any] = ["key": GatewayJSON.base64(key), "value": GatewayJSON.base64(value)]
            if lease != 0 { body["lease"] = String(lease) }
            return body
        case .range(let key, let prefix), .delete(let key, let prefix):
            var body: [String: Any] = ["key": GatewayJSON.base64(key)]
            if prefix { body["range_end"] = GatewayJSON.base64(rangeEnd(ofPrefix: key)) }
            return body
        }
    }

    static func requestOp(_ operation: EtcdOperation) -> [String: Any] {
        switch operation {
        case .put: ["request_put": operationBody(operation)]
        case .range: ["request_range": operationBody(operation)]
        case .delete: ["request_delete_range": operationBody(operation)]
        }
    }

    static func compareBody(_ compare: EtcdCompare) -> [String: Any] {
        switch compare {
        case .createRevision(let key, let revision):
            ["key": GatewayJSON.base64(key), "target": "CREATE", "result": "EQUAL", "create_revision": String(revision)]
        case .value(let key, let value):
            ["key": GatewayJSON.base64(key), "target": "VALUE", "result": "EQUAL", "value": GatewayJSON.base64(value)]
        }
    }
}
#endif
