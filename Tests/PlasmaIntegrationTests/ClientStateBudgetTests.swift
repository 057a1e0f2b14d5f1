import Foundation
import PlasmaArrowClient
import PlasmaClient
import PlasmaCore
import PlasmaWire
import Testing

extension IntegrationTests {
    /// `--client-state-budget` against the real daemon: for each kind of state a client can make the store
    /// hold, a client going over its share gets an error or a disconnect naming the numbers, another client
    /// keeps being served, and `stats` shows the usage going up and back to 0 when the client leaves.
    @Suite struct ClientStateBudgetTests {
        /// 8 MiB for at most 8 clients: floors 8 × 256 KiB, zero-byte objects 1 MiB, pool 5 MiB, so each
        /// client's share is 256 KiB + 5 MiB / 4 = 1.5 MiB (ClientStateBudget.swift).
        static let arguments = ["--client-state-budget", "8M", "--max-clients", "8"]
        static let share = 1_572_864
        static let floor = 262_144

        static func frame(_ request: Request) -> [UInt8] {
            var writer = ByteWriter()
            request.encode(requestID: 1, into: &writer)
            return writer.buffer
        }

        static func bigCreate(_ bytes: Int) -> [UInt8] {
            frame(.createAndSeal(InlineObject(id: .random(), data: [UInt8](repeating: 7, count: bytes)), timeoutMilliseconds: 0))
        }

        /// Waits until the store has given back everything, and returns the last statistics.
        static func drained(_ client: PlasmaClient, clients: Int64 = 1) throws -> Bool {
            try eventually {
                let statistics = try client.statistics()
                return statistics.clients == clients && statistics.clientStateUsed == 0
            }
        }

        @Test func statsReportTheBudget() throws {
            let store = try StoreProcess(arguments: Self.arguments)
            let statistics = try store.connect().statistics()
            #expect(statistics.clientStateBudget == 8 << 20)
            #expect(statistics.clientStateUsed == 0)
            #expect(statistics.emptyObjectsLimit > 0)
            #expect(store.log.contains("client-state budget 8.0 MiB"))
        }

        @Test func aFrameThatCannotFitInTheShareIsRefusedFromItsHeader() throws {
            let store = try StoreProcess(arguments: Self.arguments)
            let bystander = try store.connect()
            let raw = try RawConnection(path: store.socketPath)
            let frame = Self.bigCreate(2 << 20)
            // Only the first 64 KiB: the header says 2 MiB are coming, more than the 1.5 MiB share.
            try frame[..<(64 << 10)].withUnsafeBytes { try raw.socket.writeAll($0) }
            #expect(throws: (any Error).self) { try raw.readFrame() }
            #expect(store.waitForLog("can't fit in the client-state budget"))
            #expect(store.log.contains("of its \(Self.share)-byte share"))
            #expect(try bystander.contains(.random()) == false)
            #expect(try Self.drained(bystander))
            #expect(try bystander.statistics().clientStateRefusals == 1)
        }

        @Test func anArrowFrameThatCannotFitInTheShareIsRefusedWithoutANativeFrame() throws {
            // 64 MiB of capacity: Arrow frames up to 65 MiB are legal, but not for a 1.5 MiB share.
            let store = try StoreProcess(memory: "64M", arguments: Self.arguments)
            let bystander = try store.connect()
            let arrow = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            let frame = ArrowRequest.createAndSeal(
                id: .random(), evictIfFull: true, data: [UInt8](repeating: 3, count: 4 << 20), metadata: [], digest: []
            ).encode()
            try? arrow.sendRaw(Array(frame[..<(64 << 10)]))
            #expect(arrow.isClosedByStore(), "closed, and not with a native frame: EOF is all it reads")
            #expect(store.waitForLog("can't fit in the client-state budget"))
            #expect(try Self.drained(bystander))
        }

        @Test func partialFramesAreChargedAndTheConnectionThatOverflowsThePoolGoes() throws {
            let store = try StoreProcess(arguments: Self.arguments)
            let bystander = try store.connect()
            // Each sends 1.2 MiB of a 1.4 MiB frame and stops: within its share, but beyond its floor by
            // ~0.94 MiB, so the 5 MiB pool holds five of them and not six.
            let part = 1_200 << 10
            var hostile: [RawConnection] = []
            for _ in 0..<6 {
                let raw = try RawConnection(path: store.socketPath)
                let frame = Self.bigCreate(1_400 << 10)
                try? frame[..<part].withUnsafeBytes { try raw.socket.writeAll($0) }
                hostile.append(raw)
            }
            #expect(try eventually {
                let statistics = try bystander.statistics()
                return statistics.clients == 6 && statistics.clientStateInbound == Int64(5 * part)
            })
            // The sixth is refused as soon as its header shows a frame the rest of the pool can't hold.
            #expect(store.waitForLog("frame can't fit in the client-state budget"))
            // The bystander is served, within its floor, although the pool is spent.
            let id = ObjectID.random()
            try bystander.createAndSeal(id, data: [UInt8](repeating: 1, count: 100 << 10))
            #expect(try bystander.get(id, timeout: .no)?.count == 100 << 10)
            hostile.removeAll()
            #expect(try Self.drained(bystander))
        }

        @Test func aFrameAdmittedWhenThePoolHadRoomIsCutOffWhenItNoLongerFits() throws {
            let store = try StoreProcess(arguments: Self.arguments)
            let bystander = try store.connect()
            let slow = try RawConnection(path: store.socketPath)
            let slowFrame = Self.bigCreate(1_400 << 10)
            try slowFrame[..<(100 << 10)].withUnsafeBytes { try slow.socket.writeAll($0) }
            #expect(try eventually { try bystander.statistics().clientStateInbound == 100 << 10 })
            // Five others take the pool while the first one's frame is still coming.
            let part = 1_200 << 10
            let others = try (0..<5).map { _ in
                let raw = try RawConnection(path: store.socketPath)
                try Self.bigCreate(1_400 << 10)[..<part].withUnsafeBytes { try raw.socket.writeAll($0) }
                return raw
            }
            #expect(try eventually { try bystander.statistics().clientStateInbound == Int64((100 << 10) + 5 * part) })
            // Checked again as each piece arrives: the frame no longer fits, so the connection goes.
            try? slowFrame[(100 << 10)...].withUnsafeBytes { try slow.socket.writeAll($0) }
            #expect(store.waitForLog("frame can't fit in the client-state budget"))
            #expect(try eventually {
                let statistics = try bystander.statistics()
                return statistics.clients == 6 && statistics.clientStateInbound == Int64(5 * part)
            })
            withExtendedLifetime(others) {}
        }

        @Test func aClientThatStopsReadingRepliesIsDisconnectedAtItsShare() throws {
            let store = try StoreProcess(arguments: Self.arguments)
            let bystander = try store.connect()
            // ~1 MiB per list reply.
            for batch in 0..<2 {
                let objects = (0..<5_000).map { _ in InlineObject(id: .random(), data: [UInt8(batch)]) }
                #expect(try bystander.createAndSeal(batch: objects).allSatisfy { $0 == .ok })
            }
            let raw = try RawConnection(path: store.socketPath)
            try raw.sendAll([Request](repeating: .list, count: 40))
            #expect(store.waitForLog("stopped reading replies"))
            #expect(store.log.contains("client-state budget"))
            #expect(try bystander.list().count == 10_000)
            #expect(try Self.drained(bystander))
            withExtendedLifetime(raw) {}
        }

        @Test func anArrowClientThatStopsReadingRepliesIsDisconnectedAtItsShareWithoutANativeFrame() throws {
            let store = try StoreProcess(arguments: Self.arguments)
            let bystander = try store.connect()
            // ~1 MiB per Arrow list reply: 40 of them are far past the 1.5 MiB share, yet far below the
            // 64 MiB of unread replies (8 × --client-buffer) that closed such a client before its
            // replies were charged when queued.
            for batch in 0..<2 {
                let objects = (0..<5_000).map { _ in InlineObject(id: .random(), data: [UInt8(batch)]) }
                #expect(try bystander.createAndSeal(batch: objects).allSatisfy { $0 == .ok })
            }
            let arrow = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            try arrow.sendRaw((0..<40).flatMap { _ in ArrowRequest.list.encode() })
            #expect(store.waitForLog("over the client-state budget"))
            #expect(store.log.contains("stopped reading replies"))
            #expect(try Self.drained(bystander))
            #expect(try bystander.list().count == 10_000)
        }

        @Test func aGetThatWouldWaitOverTheShareIsRefusedAndTheConnectionLives() throws {
            let store = try StoreProcess(arguments: Self.arguments)
            let other = try store.connect()
            let raw = try RawConnection(path: store.socketPath)
            let perID = 256  // ClientStateBudget.waitingGetIDCost
            let tooMany = Self.share / perID + 1

            let refused = try raw.call(.get(ids: (0..<tooMany).map { _ in .random() }, timeoutMilliseconds: -1))
            guard case .failure(.limitReached, let message) = refused else {
                Issue.record("expected limitReached, got \(refused)")
                return
            }
            #expect(message.contains("a get waiting on \(tooMany) ids"), "\(message)")
            #expect(message.contains("\(tooMany * perID) bytes asked"), "\(message)")
            #expect(message.contains("--client-state-budget"), "\(message)")

            // 4,000 ids wait; 3,000 more would pass the share.
            try raw.send(.get(ids: (0..<4_000).map { _ in .random() }, timeoutMilliseconds: -1))
            #expect(try eventually { try other.statistics().clientStateWaitingGets == Int64(4_000 * perID) })
            let second = try raw.call(.get(ids: (0..<3_000).map { _ in .random() }, timeoutMilliseconds: -1))
            #expect(second.status == .limitReached)
            #expect(try raw.call(.contains(id: .random())) == .contains(false), "still served")

            // Another client's wait is its own.
            let id = ObjectID.random()
            let waiter = BackgroundCall { try other.get(id, timeout: .timeout(.seconds(10)))?.count }
            #expect(try eventually { try store.connect().statistics().pendingGets == 2 })
            try store.connect().createAndSeal(id, data: [1, 2, 3])
            #expect(try waiter.value() == 3)
            #expect(try other.statistics().clientStateWaitingGets == Int64(4_000 * perID))
            withExtendedLifetime(raw) {}
        }

        @Test func waitingGetChargesGoBackOnAnswerAndDisconnect() throws {
            let store = try StoreProcess(arguments: Self.arguments)
            let other = try store.connect()
            let raw = try RawConnection(path: store.socketPath)
            let id = ObjectID.random()
            try raw.send(.get(ids: [id] + (0..<99).map { _ in .random() }, timeoutMilliseconds: 60_000))
            try raw.send(.get(ids: [id], timeoutMilliseconds: -1))
            #expect(try eventually { try other.statistics().clientStateWaitingGets == Int64(101 * 256) })
            try other.createAndSeal(id, data: [9])  // answers the one-id get only
            #expect(try eventually { try other.statistics().clientStateWaitingGets == Int64(100 * 256) })
            raw.socket.close()
            #expect(try Self.drained(other))
        }

        @Test func waitingCreatesAreChargedWithTheirInlineBytes() throws {
            let store = try StoreProcess(memory: "1M", arguments: Self.arguments)
            let (holder, held) = try store.fillWithHeldQuarters()  // nothing evictable: creates wait
            let ids = held.map { $0!.id }

            // 300 KiB creates (each arrives whole before it is handled, so the frame and the wait it
            // becomes are both counted at that moment): a few wait, then one is refused.
            let raw = try RawConnection(path: store.socketPath)
            var waiting = 0
            var refusal: String?
            while refusal == nil, waiting < 10 {
                try raw.send(.createAndSeal(InlineObject(id: .random(), data: [UInt8](repeating: 2, count: 300 << 10)), timeoutMilliseconds: -1))
                // Requests are handled in order: the create's refusal, if any, comes before this reply.
                let reply = try raw.call(.contains(id: .random()))
                if case .failure(.limitReached, let message) = reply {
                    refusal = message
                    _ = try raw.readFrame()
                } else {
                    waiting += 1
                }
            }
            let message = try #require(refusal)
            #expect(message.contains("a create waiting for space"), "\(message)")
            #expect(message.contains("--client-state-budget"), "\(message)")
            #expect(waiting >= 2 && waiting * (300 << 10) <= Self.share, "\(waiting) waited")
            let statistics = try holder.statistics()
            #expect(statistics.pendingCreates == Int64(waiting))
            #expect(statistics.clientStateWaitingCreates == Int64(waiting * ((300 << 10) + 256)))
            #expect(try raw.call(.contains(id: ids[0])) == .contains(true), "still served")
            raw.socket.close()
            #expect(try Self.drained(holder))
            withExtendedLifetime(held) {}
        }

        @Test func aSubscriberThatStopsReadingLosesEventsAtItsShareNotAtTheClientBuffer() throws {
            let store = try StoreProcess(arguments: Self.arguments + ["--client-buffer", "64M"])
            let producer = try store.connect()
            let subscriber = try RawConnection(path: store.socketPath)
            #expect(try subscriber.call(.subscribe(subscriptionID: 1, filter: .all)).status == .ok)
            for _ in 0..<8 {
                let objects = (0..<5_000).map { _ in InlineObject(id: .random(), data: [1]) }
                #expect(try producer.createAndSeal(batch: objects).allSatisfy { $0 == .ok })
            }
            let statistics = try producer.statistics()
            #expect(statistics.eventsDropped > 0)
            #expect(statistics.clientStateRefusals > 0)
            #expect(statistics.clientStateEvents + statistics.clientStateReplies <= Int64(Self.share))
            var sawOverflow = false
            for _ in 0..<50_000 {
                if case .event(_, .overflow) = try subscriber.readFrame() {
                    sawOverflow = true
                    break
                }
            }
            #expect(sawOverflow)
            subscriber.socket.close()
            #expect(try Self.drained(producer))
        }

        @Test func zeroByteObjectsAreLimitedAndDeletingOneMakesRoom() throws {
            let store = try StoreProcess(arguments: Self.arguments)
            let client = try store.connect()
            let limit = Int(try client.statistics().emptyObjectsLimit)
            #expect(limit > 1_000)
            var ids: [ObjectID] = []
            while ids.count < limit {
                let batch = (0..<min(10_000, limit - ids.count)).map { _ in InlineObject(id: .random(), data: []) }
                #expect(try client.createAndSeal(batch: batch).allSatisfy { $0 == .ok })
                ids += batch.map(\.id)
            }
            #expect(try client.statistics().emptyObjects == Int64(limit))
            let error = #expect(throws: PlasmaClientError.self) { try client.createAndSeal(.random(), data: []) }
            #expect(error?.status == .outOfMemory)
            #expect("\(String(describing: error))".contains("\(limit) zero-byte objects"))
            try client.createAndSeal(.random(), data: [1])  // objects with bytes are not affected
            #expect(try client.delete([ids[0]]) == [.ok])
            try client.createAndSeal(.random(), data: [])
        }

        /// An Arrow subscriber's notification backlog is charged to its share (48 B per waiting
        /// notification, rounded up to chunks of 1,024): past the share its notification socket goes, the client stays, and the charge
        /// goes back to 0; well within `--arrow-notification-backlog`, so the budget is what bounds it.
        @Test func anArrowSubscriberThatStopsReadingIsBoundedByItsShare() throws {
            let store = try StoreProcess(arguments: Self.arguments)
            let client = try ArrowClient(path: store.socketPath, receiveTimeout: 20)
            let notifications = try client.subscribe()
            let observer = try store.connect()
            let digest: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
            var sealed = 0
            // The share holds about 32,000 waiting notifications; the socket buffer a few thousand more.
            while sealed < 200_000, try observer.statistics().arrowSubscriptionsDropped == 0 {
                for _ in 0..<1000 {
                    _ = try client.call(.createAndSeal(id: .random(), evictIfFull: true, data: [1], metadata: [], digest: digest))
                }
                sealed += 1000
            }
            #expect(try observer.statistics().arrowSubscriptionsDropped == 1, "after \(sealed) seals")
            #expect(store.waitForLog("more than its share of --client-state-budget"), "log: \(store.log)")
            #expect(try observer.statistics().clientStateArrowNotifications == 0)
            var received = 0
            while try ArrowClient.nextNotification(notifications) != nil { received += 1 }
            #expect(received > 0 && received < sealed, "what was sent arrives, then EOF")
            #expect(try client.call(.contains(id: .random())).isContainsReply, "the client itself is still served")
        }
    }
}
