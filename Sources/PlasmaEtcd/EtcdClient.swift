#if Cluster
import AsyncHTTPClient
import Foundation
import NIOCore
import PlasmaCore
import Synchronization

/// An etcd v3 client over etcd's JSON gateway (`POST /v3/...`), with async-http-client.
///
/// Every request goes to the endpoint that last answered; when it can't be reached, the next ones are
/// tried in turn. Leases, keys, transactions and watches are in the extensions.
public final class EtcdClient: Sendable {
    /// The members and the key prefix.
    public let endpoints: EtcdEndpoints
    /// How long a unary request may take, connecting included.
    public let requestTimeout: Duration
    private let current = Mutex(0)

    /// One HTTP client for the process (never shut down: it lives as long as the process), on NIO's
    /// shared event loops. No read timeout: a watch stays quiet while nothing changes. Each watch holds a
    /// connection for as long as it runs (two per directory), so the pool allows more than its default 8
    /// per host: requests must never queue behind watches.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(2), read: nil))
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// A client of `endpoints`; requests give up after `requestTimeout`.
    public init(endpoints: EtcdEndpoints, requestTimeout: Duration = .seconds(3)) {
        self.endpoints = endpoints
        self.requestTimeout = requestTimeout
    }

    /// POSTs `body` to `path` and returns the JSON answer; an error answer throws `.server`.
    func call(_ path: String, _ body: [String: Any]) async throws(EtcdError) -> [String: Any] {
        let bytes = try GatewayJSON.encode(body)
        let answer = try await send(path, bytes, timeout: requestTimeout) { response throws(EtcdError) in
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
        let object = try GatewayJSON.decode(answer)
        if let error = GatewayJSON.error(object) { throw error }
        return object
    }

    /// Sends a request to the current endpoint, then to the others in turn while they can't be reached,
    /// and hands the first response to `handle`.
    func send<T>(
        _ path: String, _ body: [UInt8], timeout: Duration?,
        _ handle: (HTTPClientResponse) async throws(EtcdError) -> T
    ) async throws(EtcdError) -> T {
        let first = current.withLock { $0 }
        var lastReason = "no endpoint"
        for step in 0..<endpoints.hosts.count {
            let index = (first + step) % endpoints.hosts.count
            var request = HTTPClientRequest(url: "http://\(endpoints.hosts[index])\(path)")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
            let response: HTTPClientResponse
            do {
                let deadline: NIODeadline = timeout.map { .now() + .nanoseconds(Int64(clamping: $0.clampedNanoseconds)) } ?? .distantFuture
                response = try await Self.http.execute(request, deadline: deadline)
            } catch {
                if Task.isCancelled { throw .unreachable("cancelled") }
                lastReason = "\(endpoints.hosts[index]): \(error)"
                continue
            }
            if step > 0 { current.withLock { $0 = index } }
            return try await handle(response)
        }
        throw .unreachable(lastReason)
    }
}
#endif
