/// Why a frame could not be decoded. Any of these ends the connection that sent it.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    case badMagic(UInt32)
    case unsupportedVersion(UInt16)
    case nonzeroReserved(UInt32)
    case frameTooLarge(length: Int, limit: Int)
    case unknownMessageType(UInt16)
    case truncated(needed: Int, available: Int)
    case trailingBytes(Int)
    case invalidValue(String)
    case tooManyItems(count: Int, limit: Int)

    public var description: String {
        switch self {
        case .badMagic(let magic): "bad frame magic 0x\(String(magic, radix: 16)) (not a plasma native frame)"
        case .unsupportedVersion(let version): "unsupported protocol version \(version)"
        case .nonzeroReserved(let value): "reserved header field is \(value), must be 0"
        case .frameTooLarge(let length, let limit): "frame of \(length) bytes exceeds the limit of \(limit)"
        case .unknownMessageType(let type): "unknown message type \(type)"
        case .truncated(let needed, let available): "payload truncated: needed \(needed) bytes, had \(available)"
        case .trailingBytes(let count): "\(count) unexpected bytes after the message"
        case .invalidValue(let what): "invalid value: \(what)"
        case .tooManyItems(let count, let limit): "\(count) items in one request exceeds the limit of \(limit)"
        }
    }
}
