import Foundation
import Glibc
import PlasmaClient
import PlasmaCore
import PlasmaPosix
import PlasmaTestSupport
import PlasmaWire
import Testing

extension IntegrationTests {
    /// Big requests are worked through a slice per loop pass (StoreServer+Pacing.swift, the engine's
    /// StoreEngine+GetScan.swift): other clients are answered meanwhile, the big request's connection
    /// still gets its replies in request order, and a get looked up in slices answers like any other.
    @Suite struct BigRequestPacingTests {
        /// More than one slice (the engine's `getSliceIDs`, 1,024) and as many as the native limit allows.
        static let bigGet = 65_536

        /// Whether a byte waits on `socket` now, without waiting for one.
        static func hasBytes(_ socket: UnixSocket) -> Bool {
            var descriptor = pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)
            return poll(&descriptor, 1, 0) == 1
        }

        @Test func otherClientsAreAnsweredWhileBigGetsAreLookedUp() throws {
            let store = try StoreProcess()
            let bystander = try store.connect()
            var random = SeededRandom(seed: 13_0001)
            // Eight connections, each a get of 65,536 ids that never exist (waiting forever), then a
            // contains that is answered only once that get has been looked up: 524,288 ids in slices
            // of 1,024, in turn, i.e. 512 loop passes before the last contains is answered.
            let attackers = try (0..<8).map { _ in try RawConnection(path: store.socketPath) }
            for attacker in attackers {
                let ids = (0..<Self.bigGet).map { _ in ObjectID.random(using: &random) }
                try attacker.sendAll([.get(ids: ids, timeoutMilliseconds: -1), .contains(id: .random(using: &random))])
            }
            #expect(try eventually { try bystander.statistics().pendingGets == 8 })
            // The bystander's requests go through while the attackers' gets are still being looked up:
            // some attacker has no reply to its contains yet when the bystander has had ten.
            let own = ObjectID.random(using: &random)
            try bystander.createAndSeal(own, data: [1, 2, 3])
            for _ in 0..<10 { #expect(try bystander.contains(own)) }
            let answered = attackers.filter { Self.hasBytes($0.socket) }.count
            #expect(answered < attackers.count, "every big get was looked up before ten small round trips ended")
            // And each attacker's contains is answered after all (its get still waits, unanswered).
            for attacker in attackers {
                guard case .reply(let reply) = try attacker.readFrame() else { throw Failure("an event") }
                #expect(reply == .contains(false))
            }
            #expect(try bystander.statistics().pendingGets == 8)
        }

        @Test func aBigGetThatWillNotWaitIsAnsweredBeforeTheRequestsAfterIt() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            var random = SeededRandom(seed: 13_0002)
            let present = (0..<300).map { _ in ObjectID.random(using: &random) }
            _ = try client.createAndSeal(batch: present.map { InlineObject(id: $0, data: [7]) })
            // 3,000 ids (three slices and a bit), the present ones scattered among missing ones.
            var ids = (0..<2_700).map { _ in ObjectID.random(using: &random) } + present
            ids.shuffle(using: &random)
            let raw = try RawConnection(path: store.socketPath)
            try raw.sendAll([.get(ids: ids, timeoutMilliseconds: 0), .contains(id: present[0]), .release(ids: [present[1]])])
            guard case .reply(.objects(let locations)) = try raw.readFrame() else { throw Failure("the get's reply first") }
            #expect(locations.count == ids.count)
            let found = Set(zip(ids, locations).compactMap { $1 == nil ? nil : $0 })
            #expect(found == Set(present))
            guard case .reply(let contains) = try raw.readFrame() else { throw Failure("an event") }
            #expect(contains == .contains(true))
            // The release ran after the get: the reference it gives back was taken by the get.
            guard case .reply(let released) = try raw.readFrame() else { throw Failure("an event") }
            #expect(released == .statuses([.ok]))
        }

        @Test func aBigWaitingGetIsAnsweredWhenItsLastObjectIsSealed() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            var random = SeededRandom(seed: 13_0003)
            let present = (0..<2_499).map { _ in ObjectID.random(using: &random) }
            for chunk in stride(from: 0, to: present.count, by: 500) {
                _ = try client.createAndSeal(batch: present[chunk..<min(chunk + 500, present.count)].map { InlineObject(id: $0, data: [9]) })
            }
            let late = ObjectID.random(using: &random)
            var ids = present + [late]
            ids.shuffle(using: &random)
            let raw = try RawConnection(path: store.socketPath)
            try raw.send(.get(ids: ids, timeoutMilliseconds: -1))
            #expect(try eventually { try client.statistics().pendingGets == 1 })
            try client.createAndSeal(late, data: [1])
            guard case .reply(.objects(let locations)) = try raw.readFrame() else { throw Failure("the get's reply") }
            #expect(locations.count == ids.count)
            #expect(locations.allSatisfy { $0 != nil })
            #expect(try client.statistics().pendingGets == 0)
        }

        /// A client that pipelines requests behind a big get has them held while the get is looked up;
        /// held complete frames are charged, but don't close it even when its share is nearly taken (by
        /// that get's own waiting ids): they are requests already read, at most one read's worth.
        @Test func framesHeldBehindABigGetDoNotCloseAClientNearItsShare() throws {
            // 8 MiB for 8 clients: each client's share is 1,572,864 bytes (ClientStateBudget: a 256 KiB
            // floor plus a quarter of the 5 MiB pool).
            let store = try StoreProcess(arguments: ["--client-state-budget", "8M", "--max-clients", "8"])
            let bystander = try store.connect()
            var random = SeededRandom(seed: 13_0005)
            // 5,800 waiting ids at 256 bytes: 1,484,800 bytes, leaving 88,064 of the share; the release
            // behind it is a 100 KB frame.
            let waited = (0..<5_800).map { _ in ObjectID.random(using: &random) }
            let released = (0..<5_000).map { _ in ObjectID.random(using: &random) }
            let probe = ObjectID.random(using: &random)
            let raw = try RawConnection(path: store.socketPath)
            try raw.sendAll([.get(ids: waited, timeoutMilliseconds: -1), .release(ids: released), .contains(id: probe)])
            guard case .reply(.statuses(let statuses)) = try raw.readFrame() else { throw Failure("the release's reply") }
            #expect(statuses.count == released.count)
            guard case .reply(let contains) = try raw.readFrame() else { throw Failure("the contains' reply") }
            #expect(contains == .contains(false))
            let statistics = try bystander.statistics()
            #expect(statistics.clients == 2 && statistics.pendingGets == 1, "still connected, its get still waiting")
        }

        @Test func bigGetsOfAClientThatLeavesAreUndoneAndUncharged() throws {
            let store = try StoreProcess()
            let bystander = try store.connect()
            var random = SeededRandom(seed: 13_0004)
            let present = ObjectID.random(using: &random)
            try bystander.createAndSeal(present, data: [5])
            do {
                let raw = try RawConnection(path: store.socketPath)
                let ids = [present] + (1..<Self.bigGet).map { _ in ObjectID.random(using: &random) }
                try raw.sendAll([.get(ids: ids, timeoutMilliseconds: -1), .get(ids: ids.reversed(), timeoutMilliseconds: -1)])
                #expect(try eventually { try bystander.statistics().pendingGets == 2 })
            }
            // Its waits end (unhooked a slice per pass), its references go, its share is given back.
            #expect(try eventually {
                let statistics = try bystander.statistics()
                return statistics.clients == 1 && statistics.pendingGets == 0 && statistics.clientStateUsed == 0
            })
            // The object it held is deletable at once (no reference left), and a seal of an id it
            // waited for finds no stale waiter.
            #expect(try bystander.delete([present]) == [.ok])
            try bystander.createAndSeal(.random(using: &random), data: [1])
            #expect(try bystander.statistics().clients == 1)
        }
    
        /// A client that sends a big list and hangs up before its reply: the build is dropped at the
        /// hangup, not finished for nobody in one of the four places lists take turns in (review finding).
        @Test func aListWhoseClientHungUpIsDroppedNotBuilt() throws {
            let store = try StoreProcess(arguments: ["--log-level", "debug"])
            let client = try store.connect()
            var random = SeededRandom(seed: 13_0102)
            for _ in 0..<20 {
                _ = try client.createAndSeal(batch: (0..<1_000).map { _ in InlineObject(id: .random(using: &random), data: [1]) })
            }
            // Stopped, the store finds the list and the hangup together when it next reads.
            let pid = store.process.processIdentifier
            kill(pid, SIGSTOP)
            var stopped = true
            defer { if stopped { kill(pid, SIGCONT) } }
            do {
                let lister = try RawConnection(path: store.socketPath)
                try lister.sendAll([.list])
            }  // closed
            kill(pid, SIGCONT)
            stopped = false
            #expect(store.waitForLog("it hung up"), "log: \(store.log.suffix(2_000))")
            #expect(try eventually {
                let statistics = try client.statistics()
                return statistics.clients == 1 && statistics.clientStateUsed == 0
            })
            #expect(try client.list().count == 20_000)
        }

        /// A list of more objects than a slice (1,024) is built a slice per loop pass (ListBuild.swift):
        /// it holds every object, oldest first, and comes before the replies to the requests after it.
        @Test func aBigListIsAnsweredWholeInCreationOrderBeforeTheRequestsAfterIt() throws {
            let store = try StoreProcess()
            let client = try store.connect()
            var random = SeededRandom(seed: 13_0101)
            var all: [ObjectID] = []
            for _ in 0..<5 {
                let batch = (0..<1_000).map { _ in ObjectID.random(using: &random) }
                _ = try client.createAndSeal(batch: batch.map { InlineObject(id: $0, data: [1]) })
                all += batch
            }
            _ = try client.delete(Array(all[..<500]))  // freed slots, reused by the next objects
            let later = (0..<300).map { _ in ObjectID.random(using: &random) }
            _ = try client.createAndSeal(batch: later.map { InlineObject(id: $0, data: [2]) })
            let lister = try RawConnection(path: store.socketPath)
            let own = all[4_000]
            try lister.sendAll([.list, .contains(id: own)])
            guard case .reply(.list(let infos)) = try lister.readFrame() else { throw Failure("not the list first") }
            #expect(Set(infos.map(\.id)) == Set(all[500...] + later))
            #expect(infos.count == all.count - 500 + later.count)
            #expect(infos.map(\.createdAtNanoseconds) == infos.map(\.createdAtNanoseconds).sorted())
            guard case .reply(let reply) = try lister.readFrame() else { throw Failure("an event") }
            #expect(reply == .contains(true))
            #expect(try client.list().count == infos.count)
        }
    }
}
