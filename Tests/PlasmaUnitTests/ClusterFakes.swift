import Foundation
import Logging
import PlasmaClusterCore
import PlasmaCore
import PlasmaPosix
@testable import PlasmaStore
import Synchronization

/// Polls `condition` (state, not time) until it holds; false after `seconds` (a bound far above what
/// the condition needs, for a loaded machine).
func eventually(seconds: Double = 30, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while !condition() {
        if Date() > end { return false }
        usleep(1_000)
    }
    return true
}

/// A `ClusterDirectory` in memory: records every call the store makes and lets a test deliver events
/// as the directory's own thread would.
final class FakeDirectory: ClusterDirectory, @unchecked Sendable {
    enum Call: Equatable {
        case want([ObjectID])
        case unwant([ObjectID])
        case relocate([ObjectID])
        case publish([ClusterLocation])
        case unpublish([ObjectID])
        case flush
    }

    let localNode: ClusterNode
    private let state = Mutex<(calls: [Call], handler: (@Sendable ([ClusterEvent]) -> Void)?)>(([], nil))

    init(node: String = "b") { localNode = ClusterNode(name: node, transferAddress: "127.0.0.1:7402", capacityBytes: 1 << 20) }

    var calls: [Call] { state.withLock { $0.calls } }

    func setEventHandler(_ handler: @escaping @Sendable ([ClusterEvent]) -> Void) { state.withLock { $0.handler = handler } }
    func start() async throws {}
    func stop() async {}
    func want(_ ids: [ObjectID]) { record(.want(ids)) }
    func unwant(_ ids: [ObjectID]) { record(.unwant(ids)) }
    func relocate(_ ids: [ObjectID]) { record(.relocate(ids)) }
    func publish(_ locations: [ClusterLocation]) { record(.publish(locations)) }
    func unpublish(_ ids: [ObjectID]) { record(.unpublish(ids)) }
    func flush() { record(.flush) }
    func nodes() async throws -> [ClusterNode] { [localNode] }

    private func record(_ call: Call) { state.withLock { $0.calls.append(call) } }

    /// Delivers events to the store, as the directory's watch thread would.
    func inject(_ events: [ClusterEvent]) {
        let handler = state.withLock { $0.handler }
        handler?(events)
    }

    /// The locations published so far, in order.
    var published: [ClusterLocation] {
        calls.flatMap { call -> [ClusterLocation] in
            if case .publish(let locations) = call { return locations }
            return []
        }
    }
    func wanted(_ id: ObjectID) -> Bool { calls.contains(.want([id])) }
    func unwanted(_ id: ObjectID) -> Bool { calls.contains(.unwant([id])) }
    func unpublished(_ id: ObjectID) -> Bool { calls.contains(.unpublish([id])) }
}

/// An `ObjectPuller` that fills the reserved block from a map of each node's bytes, or fails as told,
/// on a thread of its own as a transfer thread would. Like the real puller it reserves the block only
/// after the "holder" confirmed the sizes: a node served bytes of other sizes than the location's
/// answers `.notHeld` without a reserve.
final class FakePuller: ObjectPuller, @unchecked Sendable {
    enum Behaviour {
        /// Copies these bytes (data then metadata) and succeeds if they hash to the location's checksum.
        case serve([UInt8])
        /// Reserves and copies `partial` bytes of garbage (reserving nothing when 0), then fails with
        /// `failure`.
        case fail(PullFailure, partial: Int)
        /// Completes only when `release(node:with:)` says how (before any reserve).
        case hold
    }

    typealias Completion = @Sendable (Result<PulledCopy, PullFailure>) -> Void
    private let state = Mutex<(behaviours: [String: Behaviour], pulls: [String], held: [String: Completion])>(([:], [], [:]))

    /// Completes the pull held for `node` with `result`; false when none is held.
    @discardableResult
    func release(node: String, with result: Result<PulledCopy, PullFailure>) -> Bool {
        guard let completion = state.withLock({ $0.held.removeValue(forKey: node) }) else { return false }
        completion(result)
        return true
    }

    func isHolding(_ node: String) -> Bool { state.withLock { $0.held[node] != nil } }

    func set(_ node: String, _ behaviour: Behaviour) { state.withLock { $0.behaviours[node] = behaviour } }

    /// The nodes pulled from, in order.
    var pulls: [String] { state.withLock { $0.pulls } }

    func pull(_ request: PullRequest, completion: @escaping Completion) {
        let location = request.location
        let behaviour = state.withLock { state in
            state.pulls.append(location.node)
            let behaviour = state.behaviours[location.node] ?? .fail(.connection("no such node"), partial: 0)
            if case .hold = behaviour { state.held[location.node] = completion }
            return behaviour
        }
        if case .hold = behaviour { return }
        Thread.detachNewThread {
            switch behaviour {
            case .serve(let bytes):
                guard bytes.count == location.totalSize else { return completion(.failure(.notHeld)) }
                guard let buffer = request.reserve(location.dataSize, location.metadataSize) else { return completion(.failure(.declined)) }
                bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
                let checksum = bytes.withUnsafeBytes { XXH64.hash($0) }
                guard location.accepts(checksum: checksum) else {
                    return completion(.failure(.checksumMismatch(expected: location.checksum ?? checksum, actual: checksum)))
                }
                completion(.success(PulledCopy(checksum: checksum)))
            case .fail(let failure, let partial):
                if partial > 0, let buffer = request.reserve(location.dataSize, location.metadataSize) {
                    for index in 0..<min(partial, buffer.count) { buffer[index] = 0xEE }
                }
                completion(.failure(failure))
            case .hold:
                break
            }
        }
    }
}

/// A `StoreServer` in this process, serving a socket on a thread of its own, optionally a cluster node.
final class InProcessStore {
    let server: StoreServer
    let socketPath: String
    private let stopped = DispatchSemaphore(value: 0)

    init(capacity: Int = 16 << 20, cluster: ClusterAttachment?) throws {
        socketPath = "/tmp/plasma-unit-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        var configuration = ServerConfiguration(capacity: capacity, socketPath: socketPath)
        configuration.arena = .init(prefault: false)
        server = try StoreServer(
            configuration: configuration, logger: Logger(label: "cluster-test") { _ in SwiftLogNoOpLogHandler() },
            cluster: cluster)
        let (box, stopped) = (UncheckedBox(server), stopped)
        Thread.detachNewThread {
            try? box.value.run(handleSignals: false)
            stopped.signal()
        }
    }

    /// Stops the loop and waits for it to return; the server's books can be read afterwards.
    func stop() {
        server.stopHandle.requestStop()
        stopped.wait()
    }
}

/// Hands a non-Sendable value to the one thread that uses it from then on.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
