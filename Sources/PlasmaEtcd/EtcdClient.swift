#if Cluster
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL
import PlasmaCore
import Synchronization

/// An etcd v3 client over etcd's JSON gateway (`POST /v3/...`), with async-http-client.
///
/// Every request goes to the endpoint that last answered; when it can't be reached, the next ones are
/// tried in turn. Over `etcds://` it speaks TLS, and with an etcd user it sends the token etcd handed
/// out for it (``EtcdSecurity``). Leases, keys, transactions and watches are in the extensions.
public final class EtcdClient: Sendable {
    /// The members and the key prefix.
    public let endpoints: EtcdEndpoints
    /// The TLS files and the etcd user.
    public let security: EtcdSecurity
    /// How long a unary request may take, connecting included.
    public let requestTimeout: Duration
    private let current = Mutex(0)
    /// The HTTP client, or why there is none (a TLS file that can't be read): thrown by every request.
    private let http: Result<HTTPClient, EtcdError>
    /// The token etcd handed out for ``EtcdSecurity/user``, once authenticated.
    let authToken = Mutex<String?>(nil)
    /// Tokens etcd handed out to this client so far.
    let authentications = Mutex(0)

    /// One plain HTTP client for the process (never shut down: it lives as long as the process), on
    /// the etcd event loop (``EtcdEventLoop``).
    static let http: HTTPClient = makeHTTPClient(tls: nil)

    /// No read timeout: a watch stays quiet while nothing changes. Each watch holds a connection for as
    /// long as it runs (two per directory), so the pool allows more than its default 8 per host:
    /// requests must never queue behind watches.
    static func makeHTTPClient(tls: TLSConfiguration?) -> HTTPClient {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(2), read: nil))
        configuration.tlsConfiguration = tls
        // etcd's gateway never redirects; following one could resend a password (a 307 keeps the body).
        configuration.redirectConfiguration = .disallow
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
        return HTTPClient(eventLoopGroup: EtcdEventLoop.group, configuration: configuration)
    }

    /// A client of `endpoints`; requests give up after `requestTimeout`. Settings in `security` that
    /// can't be used (a TLS file unreadable) make every request throw ``EtcdError/invalidSecurity(_:)``.
    public init(endpoints: EtcdEndpoints, security: EtcdSecurity = .none, requestTimeout: Duration = .seconds(3)) {
        self.endpoints = endpoints
        self.security = security
        self.requestTimeout = requestTimeout
        http = Result { () throws(EtcdError) in try security.httpClient(for: endpoints) }
    }

    /// POSTs `body` to `path` and returns the JSON answer; an error answer throws `.server`. When etcd
    /// refuses the user's token (``EtcdError/refusesToken``), authenticates again and retries once
    /// (etcd refuses a token before it applies anything: nothing is done twice). The whole call, retry
    /// included, takes at most ``requestTimeout``.
    func call(_ path: String, _ body: some Encodable) async throws(EtcdError) -> [String: Any] {
        let bytes = try GatewayJSON.encode(body)
        let deadline = ContinuousClock.now + requestTimeout
        do {
            return try await callOnce(path, bytes, deadline: deadline)
        } catch let error where error.refusesToken && security.user != nil {
            return try await callOnce(path, bytes, deadline: deadline)
        }
    }

    private func callOnce(_ path: String, _ bytes: [UInt8], deadline: ContinuousClock.Instant) async throws(EtcdError) -> [String: Any] {
        let timeLeft = deadline - .now
        guard timeLeft > .zero else { throw .unreachable("\(path): no answer within \(requestTimeout)") }
        // Decoded inside `send`, which sees an error answer refusing the token and drops the token.
        return try await send(path, bytes, timeout: timeLeft) { response throws(EtcdError) in
            try Self.object(status: Int(response.status.code), try await Self.collect(response, path: path))
        }
    }

    /// The JSON object of an answer; an error answer throws `.server`. An answer that isn't JSON with
    /// an error status is etcd's own refusal in words (e.g. a client certificate its gateway won't
    /// take), quoted unless `quotingText` is false.
    static func object(status: Int, _ answer: [UInt8], quotingText: Bool = true) throws(EtcdError) -> [String: Any] {
        let object: [String: Any]
        do {
            object = try GatewayJSON.decode(answer)
        } catch {
            guard status != 200 else { throw error }
            guard quotingText else { throw .server(code: status, message: "HTTP \(status), not an etcd answer") }
            let text = String(decoding: answer.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw .server(code: status, message: "HTTP \(status): \(text)")
        }
        if let error = GatewayJSON.error(object) { throw error }
        return object
    }

    /// The response's whole body (at most 64 MiB).
    static func collect(_ response: HTTPClientResponse, path: String) async throws(EtcdError) -> [UInt8] {
        var collected: [UInt8] = []
        do {
            for try await chunk in response.body {
                collected.append(contentsOf: chunk.readableBytesView)
                if collected.count > 64 << 20 { throw EtcdError.malformedResponse("an answer over 64 MiB") }
            }
        } catch let error as EtcdError {
            throw error
        } catch {
            throw .unreachable("reading \(path): \(error)")
        }
        return collected
    }

    /// Sends a request to the current endpoint, then to the others in turn while they can't be reached,
    /// and hands the first response to `handle`. With an etcd user the request carries its token
    /// (authenticating first when there is none yet); a token etcd refuses is dropped.
    func send<T>(
        _ path: String, _ body: [UInt8], timeout: Duration?,
        _ handle: (HTTPClientResponse) async throws(EtcdError) -> T
    ) async throws(EtcdError) -> T {
        guard security.user != nil else { return try await sendToAnEndpoint(path, body, authorization: nil, timeout: timeout, handle) }
        let token = try await currentToken(timeout: timeout ?? requestTimeout)
        do {
            return try await sendToAnEndpoint(path, body, authorization: token, timeout: timeout, handle)
        } catch let error where error.refusesToken {
            forget(token: token)
            throw error
        }
    }

    /// `send` without authentication: the request as given, with `authorization` if any.
    func sendToAnEndpoint<T>(
        _ path: String, _ body: [UInt8], authorization: String?, timeout: Duration?,
        _ handle: (HTTPClientResponse) async throws(EtcdError) -> T
    ) async throws(EtcdError) -> T {
        let client = try http.get()
        let first = current.withLock { $0 }
        var lastReason = "no endpoint"
        for step in 0..<endpoints.hosts.count {
            let index = (first + step) % endpoints.hosts.count
            var request = HTTPClientRequest(url: endpoints.baseURL(index) + path)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            if let authorization { request.headers.add(name: "Authorization", value: authorization) }
            request.body = .bytes(body)
            let response: HTTPClientResponse
            do {
                let deadline: NIODeadline = timeout.map { .now() + .nanoseconds(Int64(clamping: $0.clampedNanoseconds)) } ?? .distantFuture
                response = try await client.execute(request, deadline: deadline)
            } catch {
                if Task.isCancelled { throw .unreachable("cancelled") }
                lastReason = "\(endpoints.hosts[index]): \(Self.reason(error))"
                continue
            }
            if step > 0 { current.withLock { $0 = index } }
            return try await handle(response)
        }
        throw .unreachable(lastReason)
    }

    /// A connection error in a sentence; a TLS failure says which certificate check failed.
    private static func reason(_ error: any Error) -> String {
        if let ssl = error as? NIOSSLError { return "TLS: \(ssl)" }
        if let ssl = error as? BoringSSLError { return "TLS: \(ssl)" }
        return "\(error)"
    }
}
#endif
