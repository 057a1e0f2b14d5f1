#if Cluster
extension EtcdError {
    /// gRPC's UNAUTHENTICATED: etcd refuses the request's token (expired, or from before etcd restarted
    /// or turned authentication off and on).
    static let unauthenticatedCode = 16

    /// Whether etcd refused the request's token rather than the request, so that a new token may
    /// succeed: UNAUTHENTICATED, and the two refusals etcd's own client also renews its token for
    /// (`shouldRefreshToken`): a token older than the last change of users, roles or grants anywhere
    /// in etcd ("revision of auth store is old"), and a request that reached etcd without one
    /// ("user name is empty").
    var refusesToken: Bool {
        guard case .server(let code, let message) = self else { return false }
        return code == Self.unauthenticatedCode
            || message.contains("revision of auth store is old") || message.contains("user name is empty")
    }
}

extension EtcdClient {
    /// The token for ``EtcdSecurity/user``: the one held, else a new one from etcd. Requests that find
    /// none at once each authenticate; etcd hands each a token, and the last one kept serves the rest.
    func currentToken(timeout: Duration) async throws(EtcdError) -> String {
        if let token = authToken.withLock({ $0 }) { return token }
        return try await authenticate(timeout: timeout)
    }

    /// Drops `stale` if it is still the held token: the next request authenticates again. A token
    /// another request fetched since is kept.
    func forget(token stale: String) {
        authToken.withLock { if $0 == stale { $0 = nil } }
    }

    /// `POST /v3/auth/authenticate` with the user's name and password (read again from its file, so
    /// that a password changed in etcd and in the file is taken without a restart); keeps and returns
    /// the token.
    private func authenticate(timeout: Duration) async throws(EtcdError) -> String {
        guard let user = security.user else { throw .invalidSecurity("no etcd user to authenticate as") }
        // Off the etcd loop: a file read blocks (EtcdEventLoop).
        let password = try await EtcdEventLoop.offLoop { () throws(EtcdError) in try user.currentPassword() }
        let body = try GatewayJSON.encode(GatewayRequest.Authenticate(name: user.name, password: password))
        let path = "/v3/auth/authenticate"
        let (status, answer) = try await sendToAnEndpoint(path, body, authorization: nil, timeout: timeout) { response throws(EtcdError) in
            (Int(response.status.code), try await Self.collect(response, path: path))
        }
        let object: [String: Any]
        do {
            // Never the text of an answer that isn't etcd's JSON: whatever answered might echo the
            // request, password included.
            object = try Self.object(status: status, answer, quotingText: false)
        } catch .server(let code, let message) {
            // etcd's messages name neither the password nor, for a wrong one, the user.
            throw .server(code: code, message: "authenticating as \(user): \(message)")
        }
        guard let token = object["token"] as? String, !token.isEmpty else {
            throw .malformedResponse("etcd's authentication answer holds no token (is etcd's auth enabled?)")
        }
        authToken.withLock { $0 = token }
        authentications.withLock { $0 += 1 }
        return token
    }
}
#endif
