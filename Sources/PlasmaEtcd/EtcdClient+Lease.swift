#if Cluster
extension EtcdClient {
    /// Grants a lease of `ttl` seconds; returns its id.
    public func grantLease(ttl: Int) async throws(EtcdError) -> Int64 {
        let answer = try await call("/v3/lease/grant", GatewayRequest.LeaseGrant(ttl: ttl))
        let id = GatewayJSON.int64(answer["ID"])
        guard id != 0 else { throw .malformedResponse("lease grant without an ID") }
        return id
    }

    /// Renews a lease once; returns the seconds it has left. Throws `.leaseExpired` when it is gone.
    @discardableResult
    public func keepAlive(lease: Int64) async throws(EtcdError) -> Int64 {
        // The gateway's keepalive is a stream; one request answers once: `{"result": {"ID", "TTL"}}`, with
        // no TTL (0) when the lease no longer exists.
        let answer = try await call("/v3/lease/keepalive", GatewayRequest.Lease(id: String(lease)))
        let result = answer["result"] as? [String: Any] ?? answer
        let ttl = GatewayJSON.int64(result["TTL"])
        guard ttl > 0 else { throw .leaseExpired(lease) }
        return ttl
    }

    /// Revokes a lease: every key attached to it is deleted at once. A lease already gone is no error.
    public func revokeLease(_ lease: Int64) async throws(EtcdError) {
        do {
            _ = try await call("/v3/lease/revoke", GatewayRequest.Lease(id: String(lease)))
        } catch .server(let code, _) where code == 5 {
            return  // NotFound: expired already
        }
    }
}
#endif
