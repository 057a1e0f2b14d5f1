import Foundation
import Glibc
import PlasmaClient
import PlasmaCore
import Testing

extension IntegrationTests {
    /// `kill -9` of a client at every step of an object's life. After each, the store serves others,
    /// no unsealed object is left behind, reference counts are right, bytes in use and the store's open
    /// descriptors are back at their baseline.
    @Suite struct FaultMatrixTests {
        enum Step: String, CaseIterable, CustomTestStringConvertible {
            case afterCreate, midWrite, afterSealBeforeRelease, waitingInGet, subscribed, midFrame
            var testDescription: String { rawValue }
        }

        /// The peer command for a step, and the line it prints once it is there.
        func peer(for step: Step, socket: String, id: ObjectID) -> ([String], String) {
            switch step {
            case .afterCreate: (["create-hold", socket, id.hex, "100000"], "created")
            case .midWrite: (["create-writing", socket, id.hex, "1000000"], "writing")
            case .afterSealBeforeRelease: (["seal-hold", socket, id.hex, "100000"], "sealed")
            case .waitingInGet: (["get-hold", socket, id.hex], "waiting")
            case .subscribed: (["subscribe-hold", socket], "subscribed")
            // A create header announcing 56 bytes of payload, and only 8 of them.
            case .midFrame: (["raw", socket, "504c534e" + "0100" + "0200" + "0100000000000000" + "38000000" + "00000000" + "0102030405060708", "hold"], "sent")
            }
        }

        /// Whether the store itself shows the step: the peer prints its line when it has sent the request,
        /// which the store may not have read yet when the kill comes.
        func storeShows(_ step: Step, _ statistics: StoreStatistics) -> Bool {
            switch step {
            case .waitingInGet: statistics.pendingGets == 1
            case .subscribed: statistics.subscriptions == 1
            case .afterCreate, .midWrite, .afterSealBeforeRelease, .midFrame: true  // answered, or not observable
            }
        }

        func openDescriptors(_ pid: Int32) -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
        }

        @Test(arguments: Step.allCases)
        func killedClientLeavesNothingBehind(_ step: Step) throws {
            let store = try StoreProcess()
            let observer = try store.connect()
            let storePID = store.process.processIdentifier
            let baseline = (try observer.statistics(), openDescriptors(storePID))
            let id = ObjectID.random()

            let (arguments, ready) = peer(for: step, socket: store.socketPath, id: id)
            let victim = try PeerProcess(arguments)
            #expect(victim.nextLine(timeout: 20) == ready)
            #expect(try eventually { try observer.statistics().clients == 2 })
            #expect(try eventually { storeShows(step, try observer.statistics()) })
            victim.kill9()
            #expect(try eventually { try observer.statistics().clients == 1 })

            let after = try observer.statistics()
            let objects = try observer.list()
            #expect(objects.allSatisfy { $0.state == .sealed && $0.referenceCount == 0 }, "left behind: \(objects)")
            #expect(after.pendingGets == 0 && after.pendingCreates == 0 && after.subscriptions == 0)
            #expect(after.createdObjects == 0)
            // Only a sealed object may stay (it was published); its bytes are evictable now.
            let kept = step == .afterSealBeforeRelease ? 100_000 : 0
            #expect(after.bytesInUse == baseline.0.bytesInUse + Int64(kept))
            #expect(after.evictableBytes == Int64(kept))
            #expect(try eventually { openDescriptors(storePID) == baseline.1 }, "descriptors leaked")

            // And the store serves a newcomer, even with the very same id.
            let newcomer = try store.connect()
            if step != .afterSealBeforeRelease { try newcomer.createAndSeal(id, data: [9]) }
            #expect(try newcomer.get(id, timeout: .no) != nil)
        }
    }
}
