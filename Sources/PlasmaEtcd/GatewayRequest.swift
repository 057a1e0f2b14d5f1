#if Cluster
import Foundation

/// The bodies of the gateway's requests, written with `JSONEncoder`. Foundation's `JSONSerialization`
/// took ~90 µs to write one location's publish transaction here (~300 µs in a busy store, timed
/// between the directory's call and the request leaving): a tenth of a cross-node wake, spent before
/// etcd sees the request. `JSONEncoder` writes the same body in ~13 µs (docs/CLUSTER.md, "Wake").
///
/// Field names are the gateway's (the protobuf names); optionals left nil are omitted, as etcd's own
/// defaults. Keys and values are base64, int64 fields decimal strings (``GatewayJSON``).
enum GatewayRequest {
    /// `/v3/kv/range` and `/v3/kv/deleterange`, and the range and delete operations of a transaction.
    struct KeyRange: Encodable {
        var key: String
        var rangeEnd: String?
        var limit: String?
        var revision: String?

        enum CodingKeys: String, CodingKey {
            case key, limit, revision
            case rangeEnd = "range_end"
        }
    }

    /// `/v3/kv/put`, and a transaction's put.
    struct Put: Encodable {
        var key: String
        var value: String
        var lease: String?
    }

    /// One compare of a transaction: the key's create revision or value, equal to the one given.
    struct Compare: Encodable {
        var key: String
        var target: String
        var result = "EQUAL"
        var createRevision: String?
        var value: String?

        enum CodingKeys: String, CodingKey {
            case key, target, result, value
            case createRevision = "create_revision"
        }
    }

    /// One operation of a transaction: exactly one of the three is set.
    struct Operation: Encodable {
        var put: Put?
        var range: KeyRange?
        var deleteRange: KeyRange?

        enum CodingKeys: String, CodingKey {
            case put = "request_put"
            case range = "request_range"
            case deleteRange = "request_delete_range"
        }
    }

    /// `/v3/kv/txn`.
    struct Transaction: Encodable {
        var compare: [Compare]
        var success: [Operation]
        var failure: [Operation]
    }

    /// `/v3/lease/grant`.
    struct LeaseGrant: Encodable {
        var ttl: Int

        enum CodingKeys: String, CodingKey { case ttl = "TTL" }
    }

    /// `/v3/lease/keepalive` and `/v3/lease/revoke`.
    struct Lease: Encodable {
        var id: String

        enum CodingKeys: String, CodingKey { case id = "ID" }
    }

    /// `/v3/kv/compaction`.
    struct Compaction: Encodable {
        var revision: String
    }

    /// `/v3/watch`: its creation request.
    struct Watch: Encodable {
        struct Create: Encodable {
            var key: String
            var rangeEnd: String
            var startRevision: String?

            enum CodingKeys: String, CodingKey {
                case key
                case rangeEnd = "range_end"
                case startRevision = "start_revision"
            }
        }

        var create: Create

        enum CodingKeys: String, CodingKey { case create = "create_request" }
    }

    /// `/v3/auth/authenticate`.
    struct Authenticate: Encodable {
        var name: String
        var password: String
    }
}

extension GatewayRequest.Operation {
    /// The gateway's form of `operation`.
    init(_ operation: EtcdOperation) {
        switch operation {
        case .put(let key, let value, let lease):
            put = GatewayRequest.Put(key, value: value, lease: lease)
        case .range(let key, let prefix):
            range = GatewayRequest.KeyRange(key, prefix: prefix)
        case .delete(let key, let prefix):
            deleteRange = GatewayRequest.KeyRange(key, prefix: prefix)
        }
    }
}

extension GatewayRequest.Put {
    /// `key` set to `value`, under `lease` when it isn't 0.
    init(_ key: String, value: [UInt8], lease: Int64) {
        self.init(key: GatewayJSON.base64(key), value: GatewayJSON.base64(value), lease: lease == 0 ? nil : String(lease))
    }
}

extension GatewayRequest.KeyRange {
    /// `key`, or every key that starts with it when `prefix`.
    init(_ key: String, prefix: Bool) {
        self.key = GatewayJSON.base64(key)
        rangeEnd = prefix ? GatewayJSON.base64(PlasmaEtcd.rangeEnd(ofPrefix: key)) : nil
    }
}

extension GatewayRequest.Compare {
    /// The gateway's form of `compare`.
    init(_ compare: EtcdCompare) {
        switch compare {
        case .createRevision(let key, let revision):
            self.init(key: GatewayJSON.base64(key), target: "CREATE", createRevision: String(revision))
        case .value(let key, let value):
            self.init(key: GatewayJSON.base64(key), target: "VALUE", value: GatewayJSON.base64(value))
        }
    }
}
#endif
