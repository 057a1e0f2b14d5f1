#if Cluster
extension EtcdError {
    /// gRPC's UNAUTHENTICATED: etcd refuses the request's token (expired, revoked by an auth change, or
    /// from before etcd restarted).
    static let unauthenticatedCode = 16
}

extension EtcdClient {
    /// The token for ``EtcdSecurity/user``: the one held, else a new one from etcd.
    func currentToken() async throws(EtcdError) -> String {
        if let token = authToken.withLock({ $0 }) { return token }
        return try await authenticate()
    }

    /// Drops the held token: the next request authenticates again. Requests racing this may each
    /// authenticate; etcd hands each a token, and the last one kept serves the rest.
    func forgetToken() {
        authToken.withLock { $0 = nil }
    }

    /// `POST /v3/auth/authenticate` with the user's name and password; keeps and returns the token.
    private func authenticate() async throws(EtcdError) -> String {
        guard let user = security.user else { throw .invalidSecurity("no etcd user to authenticate as") }
        let body = try GatewayJSON.encode(["name": user.name, "password": user.password])
        let path = "/v3/auth/authenticate"
        let (status, answer) = try await sendToAnEndpoint(path, body, authorization: nil, timeout: requestTimeout) { response throws(EtcdError) in
            (Int(response.status.code), try await Self.collect(response, path: path))
        }
        let object: [String: Any]
        do {
            object = try Self.object(status: status, answer)
        } catch .server(let code, let message) {
            // The password never appears: etcd's message names neither it nor, for a wrong one, the user.
            throw .server(code: code, message: "authenticating as \(user): \(message)")
        }
        guard let token = object["token"] as? String, !token.isEmpty else {
            throw .malformedResponse("etcd's authentication answer holds no token (is etcd's auth enabled?)")
        }
        authToken.withLock { $0 = token }
        return token
    }
}
#endif
