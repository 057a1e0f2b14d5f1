#if Cluster
import Foundation
import PlasmaClusterCore
import PlasmaCore
@testable import PlasmaEtcd
import Synchronization

/// Collects the events a directory reports, for tests to wait on.
final class ClusterEventRecorder: Sendable {
    private let events = Mutex<[ClusterEvent]>([])

    var all: [ClusterEvent] { events.withLock { $0 } }

    var handler: @Sendable ([ClusterEvent]) -> Void { { batch in self.events.withLock { $0 += batch } } }

    /// Waits until an event satisfies `match` (polling the recorded events); returns its index.
    @discardableResult
    func waitFor(_ what: String, timeout: TimeInterval = 15, after start: Int = 0, _ match: (ClusterEvent) -> Bool) async throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let recorded = all
            if start < recorded.count, let index = recorded[start...].firstIndex(where: match) { return index }
            guard Date() < deadline else { throw Failure("no \(what) within \(timeout) s; events: \(recorded)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    @discardableResult
    func waitFor(_ event: ClusterEvent, timeout: TimeInterval = 15, after start: Int = 0) async throws -> Int {
        try await waitFor("\(event)", timeout: timeout, after: start) { $0 == event }
    }
}

/// A started directory for node `name` on `url`, its events recorded.
func startedDirectory(_ name: String, url: String, ttl: Int = 5) async throws -> (EtcdDirectory, ClusterEventRecorder) {
    let directory = EtcdDirectory(configuration: EtcdDirectoryConfiguration(
        endpoints: try EtcdEndpoints(url: url),
        node: ClusterNode(name: name, transferAddress: "127.0.0.1:\(7000 + Int(name.utf8.first!))", capacityBytes: 1 << 20),
        leaseTTL: ttl))
    let recorder = ClusterEventRecorder()
    directory.setEventHandler(recorder.handler)
    try await directory.start()
    return (directory, recorder)
}

func location(_ id: ObjectID, on node: String, checksum: UInt64? = 0xfeed_f00d_dead_beef) -> ClusterLocation {
    ClusterLocation(id: id, node: node, transferAddress: "127.0.0.1:\(7000 + Int(node.utf8.first!))", dataSize: 1000, metadataSize: 24, checksum: checksum)
}
#endif
