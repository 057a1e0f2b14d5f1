#if Cluster
import Dispatch
import Foundation
import PlasmaEtcd

/// The round trip of a put through the stores' own etcd client (PlasmaEtcd's `EtcdClient`, over
/// async-http-client), beside the same put over a plain kept connection (`EtcdConnection`): what the
/// client adds to each of a store's directory writes.
enum EtcdClientTiming {
    /// p50 in µs of `count` puts of an empty value, awaited one after the other from a task.
    static func putP50(port: UInt16, count: Int) throws -> Double {
        let done = DispatchSemaphore(value: 0)
        let outcome = TimingOutcome()
        Task {
            do {
                let client = EtcdClient(endpoints: EtcdEndpoints(hosts: ["127.0.0.1:\(port)"]))
                var samples: [Double] = []
                for _ in 0..<count {
                    let start = ContinuousClock.now
                    try await client.put("/plasma-bench-client-probe", value: [])
                    samples.append((ContinuousClock.now - start).inSeconds * 1e6)
                }
                samples.sort()
                outcome.set(.success(samples[count / 2]))
            } catch {
                outcome.set(.failure(BenchError.childFailed("a put through EtcdClient failed: \(error)")))
            }
            done.signal()
        }
        done.wait()
        return try outcome.get()
    }
}

private final class TimingOutcome: @unchecked Sendable {
    // @unchecked: `result` is only touched under `lock`.
    private let lock = NSLock()
    private var result: Swift.Result<Double, BenchError> = .failure(.missing)
    func set(_ value: Swift.Result<Double, BenchError>) { lock.withLock { result = value } }
    func get() throws -> Double { try lock.withLock { result }.get() }
}
#endif
