import PlasmaCore
import PlasmaPosix
import PlasmaWire
import Testing

@testable import PlasmaEngine
@testable import PlasmaStore

/// The Arrow notification backlog (ArrowNotifier over the shared ArrowEventLog): its own bound, compact
/// entries, order kept, the subscribe snapshot not counted against the bound, one log for all.
@Suite struct ArrowNotifierTests {
    static func id(_ index: Int) -> ObjectID {
        ObjectID(bytes: withUnsafeBytes(of: UInt64(index).littleEndian, Array.init) + [UInt8](repeating: 7, count: 12))!
    }

    static func seal(_ index: Int) -> ArrowNotifier.Pending {
        .sealed(id: id(index), dataSize: Int64(index), metadataSize: 1, digest: UInt64(index))
    }

    /// A notifier on one end of a socketpair nobody reads yet, as a subscriber that reads late.
    static func lateSubscriber(backlog: Int, log: ArrowEventLog = ArrowEventLog()) throws -> (ArrowNotifier, reader: UnixSocket) {
        let (writer, reader) = try UnixSocket.pair()
        try writer.setNonBlocking(true)
        return (ArrowNotifier(socket: writer, backlogLimit: backlog, log: log), reader)
    }

    /// Logs an event and hands it out like the server: once the socket is full the notifier waits for
    /// writability (here: never).
    static func send(_ entry: ArrowNotifier.Pending, to notifier: ArrowNotifier) throws -> ArrowNotifier.Outcome {
        notifier.log.append(entry)
        let outcome = try notifier.catchUp()
        if outcome == .queued { notifier.watchingWritable = true }
        return outcome
    }

    static func next(_ reader: UnixSocket) throws -> ArrowObjectInfo {
        var size = [UInt8](repeating: 0, count: 8)
        _ = try size.withUnsafeMutableBytes { try reader.readExactly(into: $0) }
        let length = size.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }
        var payload = [UInt8](repeating: 0, count: Int(length))
        _ = try payload.withUnsafeMutableBytes { try reader.readExactly(into: $0) }
        let notification = try ArrowNotification.decode(message: size + payload)
        #expect(notification.objects.count == 1)
        return notification.objects[0]
    }

    @Test func theDefaultBacklogHoldsAMillionNotificationsForOneSubscriber() throws {
        let limit = ServerConfiguration(capacity: 1 << 20, socketPath: "unused").arrowNotificationBacklog
        #expect(limit >= 1_000_000)
        let (notifier, reader) = try Self.lateSubscriber(backlog: limit)
        defer { notifier.socket.close(); reader.close() }
        var overflowed = 0
        for index in 0..<1_000_000 where try Self.send(Self.seal(index), to: notifier) == .overflow { overflowed += 1 }
        #expect(overflowed == 0)
        #expect(notifier.pendingNotifications > 990_000, "most wait in the store, the socket took the rest")
        #expect(ArrowNotifier.bytesPerPendingNotification == 48, "what a budget charges per waiting notification")
        // The first ones arrive first, intact.
        for index in 0..<3 { #expect(try Self.next(reader) == Self.seal(index).info) }
    }

    @Test func pastItsBoundTheSubscriptionOverflowsAndWhatWasQueuedArrivesInOrder() throws {
        let (notifier, reader) = try Self.lateSubscriber(backlog: 100)
        defer { notifier.socket.close(); reader.close() }
        var sent = 0
        while try Self.send(Self.seal(sent), to: notifier) != .overflow { sent += 1 }
        #expect(notifier.backlogCount == 101, "the bound counts notifications, not bytes: one past it overflows")
        notifier.watchingWritable = false
        for index in 0..<sent {
            #expect(try Self.next(reader) == Self.seal(index).info)
            _ = try notifier.flush()  // as the server does on writability
        }
        #expect(try notifier.flush(), "nothing left")
    }

    @Test func theSnapshotDoesNotCountAgainstTheBoundAndComesFirst() throws {
        let (notifier, reader) = try Self.lateSubscriber(backlog: 10)
        defer { notifier.socket.close(); reader.close() }
        notifier.queueSnapshot((0..<5000).map(Self.seal))
        #expect(try !notifier.flush())
        notifier.watchingWritable = true
        for index in 5000..<5010 { #expect(try Self.send(Self.seal(index), to: notifier) == .queued) }
        // Overflowed: the server drops the subscriber here. The entry stays in the log (the others'
        // too) and this notifier, kept on by the test, would still write it after the rest.
        #expect(try Self.send(Self.seal(5010), to: notifier) == .overflow)
        notifier.watchingWritable = false
        for index in 0...5010 {
            #expect(try Self.next(reader) == Self.seal(index).info)
            _ = try notifier.flush()  // as the server does on writability
        }
        #expect(try Self.send(.deleted(id: Self.id(1)), to: notifier) == .sent)
        #expect(try Self.next(reader) == .deleted(id: Self.id(1)))
    }

    /// The walk announces what was sealed at the subscribe (at or before its time) and skips what was
    /// sealed since (its event announces it) or isn't sealed.
    @Test func theWalkAnnouncesObjectsSealedByTheSubscribeOnly() {
        let walk = ArrowNotifier.SnapshotWalk(nextSlot: 0, endSlot: 10, subscribedAt: 1_000)
        #expect(walk.announces(sealedAt: 999))
        #expect(walk.announces(sealedAt: 1_000))
        #expect(!walk.announces(sealedAt: 1_001))
        #expect(!walk.announces(sealedAt: nil))
    }

    /// While the snapshot is walked, events wait behind it (the socket takes only snapshot entries), and
    /// no per-id state is kept for the walk (it skips by seal time); once the walk ends the events follow.
    @Test func eventsWaitBehindASnapshotBeingWalked() throws {
        let (notifier, reader) = try Self.lateSubscriber(backlog: 10)
        defer { notifier.socket.close(); reader.close() }
        notifier.snapshotWalk = ArrowNotifier.SnapshotWalk(nextSlot: 0, endSlot: 100, subscribedAt: 1_000)
        notifier.queueSnapshot([Self.seal(0)])
        #expect(try notifier.flush(), "nothing more may be written yet")
        #expect(try Self.send(Self.seal(50), to: notifier) == .held)
        #expect(try Self.send(.deleted(id: Self.id(1)), to: notifier) == .held)
        #expect(notifier.heldBytes == ArrowNotifier.chunkEntries * ArrowNotifier.bytesPerPendingNotification,
                "one chunk for what waits, and no per-id state for the walk")
        #expect(notifier.pendingNotifications == 2)
        notifier.queueSnapshot([Self.seal(1), Self.seal(2)])
        #expect(try notifier.flush())
        #expect(notifier.pendingNotifications == 2, "the events still wait")
        notifier.snapshotWalk = nil
        #expect(try notifier.flush())
        for expected in [Self.seal(0).info, Self.seal(1).info, Self.seal(2).info, Self.seal(50).info, .deleted(id: Self.id(1))] {
            #expect(try Self.next(reader) == expected)
        }
    }

    /// Subscribers share one log: an event is appended once, each subscriber reads it from its own
    /// position, and the log keeps only the chunks some subscriber has yet to read.
    @Test func subscribersShareOneLogEachAtItsOwnPosition() throws {
        let log = ArrowEventLog(chunkEntries: 4)
        let (reading, readingEnd) = try Self.lateSubscriber(backlog: 100, log: log)
        defer { reading.socket.close(); readingEnd.close() }
        for index in 0..<10 { log.append(Self.seal(index)) }
        let (late, lateEnd) = try Self.lateSubscriber(backlog: 100, log: log)  // subscribes after 10 events
        defer { late.socket.close(); lateEnd.close() }
        for index in 10..<13 { log.append(Self.seal(index)) }
        #expect(try reading.catchUp() == .sent)
        #expect(reading.cursor == 13 && late.cursor == 10 && late.backlogCount == 3)
        for index in 0..<13 { #expect(try Self.next(readingEnd) == Self.seal(index).info) }
        log.discard(before: min(reading.cursor, late.cursor))
        #expect(log.startSequence == 8 && log.count == 5, "whole chunks before the late one's position went")
        #expect(try late.catchUp() == .sent)
        for index in 10..<13 { #expect(try Self.next(lateEnd) == Self.seal(index).info) }
        log.discard(before: log.endSequence)
        #expect(log.count == 0 && log.chunkCount == 0)
        log.append(Self.seal(13))  // numbering goes on
        #expect(log.startSequence == 13 && log[13] == Self.seal(13))
        #expect(try late.catchUp() == .sent && late.cursor == 14)
        #expect(try Self.next(lateEnd) == Self.seal(13).info)
    }
}
