import PlasmaCore

/// The transfer protocol's constants and fixed-size messages (docs/TRANSFER.md gives the whole wire
/// format). Integers are little-endian.
enum TransferWire {
    /// Opens the client's hello and the server's challenge: "PLXF".
    static let magic: [UInt8] = Array("PLXF".utf8)
    /// 3: an object's bytes are followed by a trailer, their seeded XXH64 under a session MAC (version 2
    /// had none: a relay could swap the bytes); 2: requests and reply headers carry a session MAC.
    static let version: UInt8 = 3
    static let nonceBytes = 32
    static let proofBytes = 32
    /// The HMAC-SHA256 that follows each request and each reply header (``TransferSession``).
    static let macBytes = 32
    /// Node names longer than this are refused (their length travels in one byte).
    static let maxNameBytes = 255

    /// The server's verdict on the client's proof.
    static let accepted: UInt8 = 0
    static let refused: UInt8 = 1

    /// The one request: pull an object.
    static let pullOperation: UInt8 = 1
    /// operation (1) + id (20) + data size (8) + metadata size (8); then its MAC (``macBytes``).
    static let requestBytes = 1 + ObjectID.byteCount + 16
    /// status (1) + data size (8) + metadata size (8); then its MAC; the object's bytes follow status
    /// `sending`.
    static let replyBytes = 17

    /// After the bytes of a `sending` reply: their XXH64 (8), seeded per pull (``TransferSession/seed``),
    /// then its MAC.
    static let trailerBytes = 8

    /// How the server answers a pull.
    enum ReplyStatus: UInt8 {
        /// The object's bytes follow: exactly the sizes asked for.
        case sending = 0
        /// Not held here (absent, unsealed, gone).
        case notHeld = 1
        /// Held with other sizes than asked for: a different object under the same id.
        case otherSizes = 2
    }

    /// A pull request.
    struct Request: Equatable {
        var id: ObjectID
        var dataSize: Int
        var metadataSize: Int

        var encoded: [UInt8] {
            [pullOperation] + id.bytes + littleEndian(UInt64(dataSize)) + littleEndian(UInt64(metadataSize))
        }

        /// nil when `bytes` (``requestBytes`` of them) is not a pull or names impossible sizes.
        init?(decoding bytes: [UInt8]) {
            guard bytes.count == requestBytes, bytes[0] == pullOperation,
                  let id = ObjectID(bytes: bytes[1...ObjectID.byteCount]) else { return nil }
            let data = readLittleEndian(bytes, at: 1 + ObjectID.byteCount)
            let metadata = readLittleEndian(bytes, at: 9 + ObjectID.byteCount)
            guard data <= UInt64(Int.max / 2), metadata <= UInt64(Int.max / 2) else { return nil }
            self.init(id: id, dataSize: Int(data), metadataSize: Int(metadata))
        }

        init(id: ObjectID, dataSize: Int, metadataSize: Int) {
            (self.id, self.dataSize, self.metadataSize) = (id, dataSize, metadataSize)
        }
    }

    /// A reply's header.
    static func reply(_ status: ReplyStatus, dataSize: Int, metadataSize: Int) -> [UInt8] {
        [status.rawValue] + littleEndian(UInt64(dataSize)) + littleEndian(UInt64(metadataSize))
    }

    static func littleEndian(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    static func readLittleEndian(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { value, index in value | UInt64(bytes[offset + index]) << (8 * UInt64(index)) }
    }
}
