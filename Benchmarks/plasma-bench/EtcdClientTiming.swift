#if Cluster
import Foundation
import PlasmaEtcd
import PlasmaToolSupport

/// The round trip of a put through the stores' own etcd client (PlasmaEtcd's `EtcdClient`, over
/// async-http-client), beside the same put over a plain kept connection (`EtcdConnection`): what the
/// client adds to each of a store's directory writes.
enum EtcdClientTiming {
    /// p50 in µs of `count` puts of an empty value, awaited one after the other from a task.
    static func putP50(port: UInt16, count: Int) throws -> Double {
        try p50(port: port, count: count, of: "a put") { client in
            { _ in try await client.put("/plasma-bench-client-probe", value: []) }
        }
    }

    /// p50 in µs of `count` transactions shaped as a location's publish (a create-revision compare, two
    /// puts under a lease), through EtcdClient.
    static func publishP50(port: UInt16, count: Int) throws -> Double {
        try p50(port: port, count: count, of: "a publish transaction") { client in
            let lease = try await client.grantLease(ttl: 60)
            return { index in
                let first = "/plasma-bench-client-probe/first/\(index)", location = "/plasma-bench-client-probe/locations/\(index)/a"
                _ = try await client.transaction(
                    compare: [.createRevision(key: first, equals: 0)],
                    success: [.put(key: first, value: Array("a".utf8), lease: lease),
                              .put(key: location, value: [UInt8](repeating: 7, count: 80), lease: lease)])
            }
        }
    }

    /// p50 in µs of `count` requests made by the closure `prepare` returns (called with 0, 1, ...), one
    /// after the other from a task, through a new EtcdClient of `port`.
    private static func p50(
        port: UInt16, count: Int, of what: String,
        _ prepare: @escaping @Sendable (EtcdClient) async throws -> @Sendable (Int) async throws -> Void
    ) throws -> Double {
        do {
            // On the etcd event loop, as the stores' directory awaits its requests (EtcdEventLoop).
            return try runBlocking {
                try await withTaskExecutorPreference(EtcdEventLoop.executor) {
                    let client = EtcdClient(endpoints: EtcdEndpoints(hosts: ["127.0.0.1:\(port)"]))
                    let request = try await prepare(client)
                    var samples: [Double] = []
                    for index in 0..<count {
                        let start = ContinuousClock.now
                        try await request(index)
                        samples.append((ContinuousClock.now - start).inSeconds * 1e6)
                    }
                    samples.sort()
                    return samples[count / 2]
                }
            }
        } catch {
            throw BenchError.childFailed("\(what) through EtcdClient failed: \(error)")
        }
    }
}
#endif
