import Crypto
import PlasmaPosix

/// Mutual challenge–response over the cluster token, before any request (docs/TRANSFER.md):
///
/// 1. client → server: `PLXF`, version, client name (length byte + UTF-8), client nonce (32 random bytes)
/// 2. server → client: `PLXF`, version, server name, server nonce
/// 3. client → server: client proof = HMAC-SHA256(token, "plasma-transfer v1 client" ‖ names ‖ nonces)
/// 4. server → client: `refused` (and close), or `accepted` and the server proof, the same HMAC under
///    the label "plasma-transfer v1 server".
///
/// Both sides then derive the connection's ``TransferSession`` key, HMAC-SHA256(token,
/// "plasma-transfer v1 session" ‖ names ‖ nonces), which authenticates every later message.
///
/// The token never crosses the wire; each proof covers the other side's fresh nonce (no replay) and its
/// own label (a proof can't be reflected back as the other role's); both names are bound in. Proofs are
/// compared in constant time (swift-crypto's `isValidAuthenticationCode`). The client proves first, so a
/// server learns nothing about the token from a client, and a peer that can't prove gets no object.
struct TransferHandshake {
    let token: ClusterToken
    let nodeName: [UInt8]

    init(token: ClusterToken, nodeName: String) {
        self.token = token
        self.nodeName = Array(nodeName.utf8.prefix(TransferWire.maxNameBytes))
    }

    enum Role: String {
        case client, server
        /// Not a proof: the label of the session key's derivation.
        case session
        var label: [UInt8] { Array("plasma-transfer v1 \(rawValue)".utf8) }
    }

    /// What a proof authenticates: the role's label, both names (length-prefixed), both nonces.
    static func transcript(_ role: Role, client: [UInt8], server: [UInt8], clientNonce: [UInt8], serverNonce: [UInt8]) -> [UInt8] {
        role.label + [UInt8(client.count)] + client + [UInt8(server.count)] + server + clientNonce + serverNonce
    }

    func proof(_ transcript: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: transcript, using: token.key))
    }

    func isValid(_ proof: [UInt8], for transcript: [UInt8]) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(proof, authenticating: transcript, using: token.key)
    }

    static func nonce() -> [UInt8] {
        SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
    }

    /// `PLXF`, version, name, nonce.
    func greeting(nonce: [UInt8]) -> [UInt8] {
        TransferWire.magic + [TransferWire.version, UInt8(nodeName.count)] + nodeName + nonce
    }

    /// Reads the other side's greeting: its name and nonce.
    static func readGreeting(on socket: TCPSocket, before deadline: UInt64) throws(TransferFault) -> (name: [UInt8], nonce: [UInt8]) {
        var header = [UInt8](repeating: 0, count: TransferWire.magic.count + 2)
        try socket.receiveExactly(&header, before: deadline)
        guard Array(header.prefix(4)) == TransferWire.magic else { throw .protocolViolation("not a transfer peer (bad magic)") }
        guard header[4] == TransferWire.version else { throw .protocolViolation("protocol version \(header[4]), expected \(TransferWire.version)") }
        var rest = [UInt8](repeating: 0, count: Int(header[5]) + TransferWire.nonceBytes)
        try socket.receiveExactly(&rest, before: deadline)
        return (Array(rest.prefix(Int(header[5]))), Array(rest.suffix(TransferWire.nonceBytes)))
    }

    func session(client: [UInt8], server: [UInt8], clientNonce: [UInt8], serverNonce: [UInt8]) -> TransferSession {
        TransferSession(
            token: token,
            sessionTranscript: Self.transcript(.session, client: client, server: server, clientNonce: clientNonce, serverNonce: serverNonce))
    }

    /// The client's side; returns the server's proven name and the session. Throws `.refusedByPeer` when the server refused this
    /// node's proof, `.wrongProof` when the server's proof is wrong.
    func runAsClient(on socket: TCPSocket, before deadline: UInt64) throws(TransferFault) -> (name: String, session: TransferSession) {
        let clientNonce = Self.nonce()
        try socket.send(greeting(nonce: clientNonce))
        let (serverName, serverNonce) = try Self.readGreeting(on: socket, before: deadline)
        try socket.send(proof(Self.transcript(.client, client: nodeName, server: serverName, clientNonce: clientNonce, serverNonce: serverNonce)))
        var verdict = [UInt8](repeating: 0, count: 1)
        try socket.receiveExactly(&verdict, before: deadline)
        guard verdict[0] == TransferWire.accepted else {
            if verdict[0] == TransferWire.refused { throw .refusedByPeer }
            throw .protocolViolation("verdict \(verdict[0])")
        }
        var serverProof = [UInt8](repeating: 0, count: TransferWire.proofBytes)
        try socket.receiveExactly(&serverProof, before: deadline)
        let expected = Self.transcript(.server, client: nodeName, server: serverName, clientNonce: clientNonce, serverNonce: serverNonce)
        guard isValid(serverProof, for: expected) else { throw .wrongProof }
        return (String(decoding: serverName, as: UTF8.self),
                session(client: nodeName, server: serverName, clientNonce: clientNonce, serverNonce: serverNonce))
    }

    /// Tells the client its proof was wrong.
    func refuse(on socket: TCPSocket) {
        try? socket.send([TransferWire.refused])
    }

    /// The server's side; returns the client's proven name and the session. On a wrong proof it throws `.wrongProof`: the caller
    /// counts and logs it, then sends ``refuse(on:)`` and closes (in that order, so that a peer told of
    /// the refusal finds it counted). `admit` is asked with the proven name before the verdict is sent;
    /// false throws `.noPlace` with nothing sent, so that the client doesn't take the connection for
    /// an authenticated one.
    func runAsServer(
        on socket: TCPSocket, before deadline: UInt64, admit: (String) -> Bool = { _ in true }
    ) throws(TransferFault) -> (name: String, session: TransferSession) {
        let (clientName, clientNonce) = try Self.readGreeting(on: socket, before: deadline)
        let serverNonce = Self.nonce()
        try socket.send(greeting(nonce: serverNonce))
        var clientProof = [UInt8](repeating: 0, count: TransferWire.proofBytes)
        try socket.receiveExactly(&clientProof, before: deadline)
        let expected = Self.transcript(.client, client: clientName, server: nodeName, clientNonce: clientNonce, serverNonce: serverNonce)
        guard isValid(clientProof, for: expected) else { throw .wrongProof }
        let name = String(decoding: clientName, as: UTF8.self)
        guard admit(name) else { throw .noPlace }
        try socket.send([TransferWire.accepted]
            + proof(Self.transcript(.server, client: clientName, server: nodeName, clientNonce: clientNonce, serverNonce: serverNonce)))
        return (name, session(client: clientName, server: nodeName, clientNonce: clientNonce, serverNonce: serverNonce))
    }
}
