import Crypto

/// What authenticates every message after the handshake (docs/TRANSFER.md, "Session"). The handshake
/// alone would prove only that the token's holders were *at the ends of the handshake*: a relay that
/// forwards the four handshake messages between a real client and a real server is then left holding
/// an authenticated connection, on which it could send its own pulls. So both sides derive a session
/// key from the token and the handshake's transcript (both names, both fresh nonces), and each request
/// and each reply header carries an HMAC under it, over its direction's label, the connection's
/// request counter and its bytes. A relay without the token can't make one: it can only forward the
/// real client's requests unchanged (in order: the counter makes replays and reordering fail).
///
/// The object's bytes themselves are too many to MAC at wire speed with SHA-256 here, so the sender
/// hashes them with XXH64 as it sends and sends a trailer: that hash under a MAC. The hash is seeded
/// per pull from the session key, so a relay (which doesn't hold the token, hence not the seed) can't
/// aim swapped bytes at a known hash, as it could at the location's unseeded checksum. XXH64 is no
/// cryptographic MAC: with the seed unknown, crafting bytes to a given seeded hash is not a published
/// attack, but nothing proves it infeasible (docs/SECURITY.md).
struct TransferSession {
    private let key: SymmetricKey
    /// The number of the next request on this connection (requests and their replies share it).
    private(set) var counter: UInt64 = 0

    static let requestLabel = Array("plasma-transfer v1 client->server".utf8)
    static let replyLabel = Array("plasma-transfer v1 server->client".utf8)
    static let trailerLabel = Array("plasma-transfer v3 trailer server->client".utf8)
    static let seedLabel = Array("plasma-transfer v3 seed".utf8)

    /// The session of the handshake whose transcript (without role label) is `transcript`:
    /// key = HMAC-SHA256(token, "plasma-transfer v1 session" ‖ names ‖ nonces).
    init(token: ClusterToken, sessionTranscript: [UInt8]) {
        key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: sessionTranscript, using: token.key)))
    }

    private func code(_ label: [UInt8], _ counter: UInt64, _ bytes: [UInt8]) -> [UInt8] {
        var hmac = HMAC<SHA256>(key: key)
        hmac.update(data: label)
        hmac.update(data: TransferWire.littleEndian(counter))
        hmac.update(data: bytes)
        return Array(hmac.finalize())
    }

    private func isValid(_ mac: some Collection<UInt8>, _ label: [UInt8], _ counter: UInt64, _ bytes: [UInt8]) -> Bool {
        var message = label + TransferWire.littleEndian(counter)
        message += bytes
        return HMAC<SHA256>.isValidAuthenticationCode(Array(mac), authenticating: message, using: key)
    }

    /// The request as sent: its bytes and their MAC under the current counter.
    func sealRequest(_ request: [UInt8]) -> [UInt8] { request + code(Self.requestLabel, counter, request) }

    /// Whether `mac` authenticates `request` as this connection's current request.
    func isValidRequest(_ request: [UInt8], mac: some Collection<UInt8>) -> Bool {
        isValid(mac, Self.requestLabel, counter, request)
    }

    /// The reply header as sent: its bytes and their MAC under the current request's counter.
    func sealReply(_ header: [UInt8]) -> [UInt8] { header + code(Self.replyLabel, counter, header) }

    /// Whether `mac` authenticates `header` as the reply to the current request.
    func isValidReply(_ header: [UInt8], mac: some Collection<UInt8>) -> Bool {
        isValid(mac, Self.replyLabel, counter, header)
    }

    /// The XXH64 seed of the current request's bytes: the first 8 bytes (little-endian) of
    /// HMAC-SHA256(session key, "plasma-transfer v3 seed" ‖ counter).
    var seed: UInt64 {
        let code = self.code(Self.seedLabel, counter, [])
        return TransferWire.readLittleEndian(code, at: 0)
    }

    /// The trailer as sent after the current request's bytes: their seeded hash and its MAC.
    func sealTrailer(checksum: UInt64) -> [UInt8] {
        let bytes = TransferWire.littleEndian(checksum)
        return bytes + code(Self.trailerLabel, counter, bytes)
    }

    /// The checksum of a trailer (``TransferWire/trailerBytes`` + ``TransferWire/macBytes``) whose MAC
    /// authenticates it as the current request's; nil when it doesn't.
    func openTrailer(_ trailer: [UInt8]) -> UInt64? {
        let bytes = Array(trailer.prefix(TransferWire.trailerBytes))
        guard trailer.count == TransferWire.trailerBytes + TransferWire.macBytes,
              isValid(trailer.suffix(TransferWire.macBytes), Self.trailerLabel, counter, bytes) else { return nil }
        return TransferWire.readLittleEndian(bytes, at: 0)
    }

    /// After a request's reply (header, and bytes and trailer if sent): the next request has the next
    /// number.
    mutating func advance() { counter &+= 1 }
}
