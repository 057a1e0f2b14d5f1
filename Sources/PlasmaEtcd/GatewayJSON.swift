#if Cluster
import Foundation

/// The gateway's JSON conventions: keys and values in base64, int64 as decimal strings, defaults
/// (0, false, empty) omitted from answers.
enum GatewayJSON {
    static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
    static func base64(_ text: String) -> String { base64(Array(text.utf8)) }

    /// A request's body (``GatewayRequest``).
    static func encode(_ body: some Encodable) throws(EtcdError) -> [UInt8] {
        do {
            return Array(try JSONEncoder().encode(body))
        } catch {
            throw .malformedResponse("cannot encode a request: \(error)")
        }
    }

    static func decode(_ bytes: some Collection<UInt8>) throws(EtcdError) -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw .malformedResponse("not a JSON object: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
        }
        return object
    }

    /// An int64 field: a decimal string, or a number; absent is 0.
    static func int64(_ value: Any?) -> Int64 {
        switch value {
        case let text as String: Int64(text) ?? 0
        case let number as NSNumber: number.int64Value
        default: 0
        }
    }

    static func bytes(_ value: Any?) -> [UInt8] {
        guard let text = value as? String, let data = Data(base64Encoded: text) else { return [] }
        return Array(data)
    }

    static func keyValue(_ value: Any?) -> EtcdKeyValue? {
        guard let object = value as? [String: Any] else { return nil }
        return EtcdKeyValue(
            key: String(decoding: bytes(object["key"]), as: UTF8.self), value: bytes(object["value"]),
            createRevision: int64(object["create_revision"]), modRevision: int64(object["mod_revision"]),
            lease: int64(object["lease"]))
    }

    static func revision(_ object: [String: Any]) -> Int64 {
        int64((object["header"] as? [String: Any])?["revision"])
    }

    /// An error answer (`{"error": …, "code": N}`), else nil.
    static func error(_ object: [String: Any]) -> EtcdError? {
        guard object["error"] != nil || object["code"] != nil else { return nil }
        let message = object["message"] as? String ?? object["error"] as? String ?? "unknown"
        return .server(code: Int(int64(object["code"])), message: message)
    }
}
#endif
