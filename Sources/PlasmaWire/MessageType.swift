/// Native message types. Requests use the raw value; a reply carries `raw | replyBit`.
public enum MessageType: UInt16, Sendable, CaseIterable {
    case connect = 1
    case create = 2
    case seal = 3
    case abort = 4
    case createAndSeal = 5
    case createAndSealBatch = 6
    case get = 7
    case release = 8
    case contains = 9
    case delete = 10
    case evict = 11
    case list = 12
    case stats = 13
    case cancel = 14
    case subscribe = 15
    case unsubscribe = 16

    public static let replyBit: UInt16 = 0x8000
    public static let eventBit: UInt16 = 0x4000

    public var replyType: UInt16 { rawValue | Self.replyBit }
}
