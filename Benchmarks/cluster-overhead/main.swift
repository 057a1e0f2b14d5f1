// A release store for measuring what a cluster attachment costs local work (issue 15, item 7:
// local small-op rates with a cluster on vs off, target >= 95 %). It serves like `plasma-store`, with
// or without (`--no-op-cluster`) an attachment whose directory and puller do nothing, so that only the
// store's own cluster work (demand tracking, the per-pass settling) is measured. Benchmarks/
// cluster-overhead.sh runs two of these side by side under plasma-bench.
//
//   cluster-overhead-store SOCKET MEMORY_BYTES [--no-op-cluster]
//   cluster-overhead-store --engine-loop      # the engine path alone, demand tracking on vs off
import Glibc
import Logging
import PlasmaClusterCore
import PlasmaCore
import PlasmaStore

/// A directory that registers nothing and reports nothing.
final class NoOpDirectory: ClusterDirectory, @unchecked Sendable {
    let localNode = ClusterNode(name: "bench", transferAddress: "127.0.0.1:1", capacityBytes: 0)
    func setEventHandler(_ handler: @escaping @Sendable ([ClusterEvent]) -> Void) {}
    func start() async throws {}
    func stop() async {}
    func want(_ ids: [ObjectID]) {}
    func unwant(_ ids: [ObjectID]) {}
    func relocate(_ ids: [ObjectID]) {}
    func publish(_ locations: [ClusterLocation]) {}
    func unpublish(_ ids: [ObjectID]) {}
    func flush() {}
    func nodes() async throws -> [ClusterNode] { [] }
}

/// A puller whose every pull fails at once.
final class NoOpPuller: ObjectPuller, @unchecked Sendable {
    func pull(_ request: PullRequest, completion: @escaping @Sendable (Result<PulledCopy, PullFailure>) -> Void) {
        completion(.failure(.notHeld))
    }
}

let arguments = CommandLine.arguments
if arguments.count == 2, arguments[1] == "--engine-loop" {
    EngineLoop.measure()
    exit(0)
}
guard arguments.count >= 3, let memory = Int(arguments[2]) else {
    print("usage: cluster-overhead-store SOCKET MEMORY_BYTES [--no-op-cluster]")
    exit(2)
}
let attachment = arguments.contains("--no-op-cluster")
    ? ClusterAttachment(directory: NoOpDirectory(), puller: NoOpPuller()) : nil
do {
    let server = try StoreServer(
        configuration: ServerConfiguration(capacity: memory, socketPath: arguments[1]),
        logger: Logger(label: "cluster-overhead"), cluster: attachment)
    try server.run()
} catch {
    print("cluster-overhead-store: \(error)")
    exit(1)
}
