import PlasmaCore
import PlasmaEngine
import PlasmaPosix
import PlasmaWire

/// Serving Arrow Plasma clients (pyarrow 11, libplasma 11) on the native socket: frames in, requests
/// through the Arrow adapter (ArrowAdapter.swift, Arrow's semantics), Arrow replies and fds out, and the
/// notification socket a subscriber passes.
///
/// Where Arrow's store aborted (`ARROW_CHECK`) on a client's mistake, this answers with an error the
/// client can take, or ignores it, or disconnects that one client, always with a log line.
extension StoreServer {
    /// No count limit of its own: Arrow's store takes any number of ids in a get, delete or refresh, so
    /// only the frame size bounds them (every id takes at least 28 bytes of the frame; the decoder checks
    /// that the elements fit in it before it reads them).
    private var arrowLimits: WireLimits {
        WireLimits(maxPayload: configuration.arrowMaxPayload, maxItems: Int.max)
    }

    /// False when the client limit refused it (StoreServer+DialectLimits.swift): closed, never a native frame.
    func startArrowSession(_ connection: Connection) -> Bool {
        connection.dialect = .arrow
        guard admitArrowClient(connection) else { return false }
        connection.arrow = ArrowSession()
        arrow.adopt(connection.client)
        logger.info("\(connection.peerDescription) speaks the Arrow plasma dialect")
        return true
    }

    // MARK: Frames

    /// Executes every complete Arrow frame in `raw` (and the fd byte that follows a Subscribe); returns
    /// the bytes consumed. Closes the connection on anything malformed.
    func processArrowFrames(_ raw: UnsafeRawBufferPointer, on connection: Connection) -> Int {
        guard let session = connection.arrow else { return 0 }
        var offset = 0
        while !connection.isClosed, connection.closeReason == nil {  // doomed: nothing more runs
            // Only Subscribe legitimately passes an fd; a client that piles up more is not an Arrow client.
            guard connection.receivedDescriptors.count <= 4 else {
                close(connection, reason: "Arrow plasma dialect: sent \(connection.receivedDescriptors.count) unexpected file descriptors")
                return offset
            }
            let rest = UnsafeRawBufferPointer(rebasing: raw[offset...])
            if session.awaitingSubscribeDescriptor {
                guard rest.count >= 1 else { return offset }
                offset += 1
                session.awaitingSubscribeDescriptor = false
                guard !connection.receivedDescriptors.isEmpty else {
                    close(connection, reason: "Arrow plasma dialect: SubscribeRequest not followed by a file descriptor")
                    return offset
                }
                subscribeArrow(connection, session, descriptor: connection.receivedDescriptors.removeFirst())
                continue
            }
            let header: ArrowFrameHeader
            do {
                guard let decoded = try ArrowFrameHeader.decode(rest, maxPayload: arrowLimits.maxPayload) else { return offset }
                header = decoded
            } catch {
                close(connection, reason: "Arrow plasma dialect: malformed frame header: \(error)")
                return offset
            }
            let frameSize = ArrowFrameHeader.size + header.payloadLength
            guard rest.count >= frameSize else {
                _ = admitFrame(of: frameSize, on: connection)  // the client-state budget (StoreServer+Budget.swift)
                return offset
            }
            let request: ArrowRequest
            do {
                request = try ArrowRequest.decode(
                    type: header.type, payload: UnsafeRawBufferPointer(rebasing: rest[ArrowFrameHeader.size..<frameSize]),
                    limits: arrowLimits)
            } catch {
                close(connection, reason: "Arrow plasma dialect: malformed or unsupported request (type \(header.type)): \(error)")
                return offset
            }
            offset += frameSize
            let response = arrow.handle(request, session: session, client: connection.client)
            sendArrow(response, to: connection)
            if pausesAfter(work(of: request), on: connection, more: offset < raw.count) { return offset }  // StoreServer+Pacing.swift
        }
        return offset
    }

    // MARK: Replies

    /// Logs the response's warning, queues its reply; with `passingArena`, then the arena fd in a 1-byte
    /// message of its own if this client hasn't had it (Arrow's client reads the reply with plain reads,
    /// then recvmsg's 1 byte).
    func sendArrow(_ response: ArrowResponse, to connection: Connection) {
        if let warning = response.warning { logger.warning("\(connection.peerDescription): \(warning)") }
        guard let reply = response.reply, !connection.isClosed, connection.closeReason == nil else { return }
        guard !doomIfNotReadingReplies(connection) else { return }
        let queuedBefore = connection.outbound.pendingBytes
        reply.encode(into: &connection.outbound.writer.buffer, using: &arrowBuilder)
        arrowReplied(reply, on: connection)  // StoreServer+PreWake.swift
        // One huge reply (a get of many ids, a list) must not keep its builder's storage, uncharged,
        // for the life of the store.
        if arrowBuilder.capacity > 1 << 20 { arrowBuilder = FlatBufferBuilder(capacity: 1024) }
        if response.passingArena, let session = connection.arrow, !session.sentArena {
            connection.outbound.attachDescriptorToNextByte(arena.descriptor, alone: true)
            connection.outbound.writer.buffer.append(0)
            session.sentArena = true
        }
        // Charged at once, as native replies are (closed if not read: Arrow clients never get a native frame).
        guard chargeQueuedReply(on: connection, queuedBefore: queuedBefore) else { return }
        schedule(connection)
    }

    // MARK: Notifications

    private func subscribeArrow(_ connection: Connection, _ session: ArrowSession, descriptor: Int32) {
        let socket = UnixSocket(rawValue: descriptor)
        guard !session.subscribed else {
            socket.close()
            logger.warning("\(connection.peerDescription): Arrow client subscribed twice; its second notification socket is closed")
            return
        }
        session.subscribed = true
        try? socket.setNonBlocking(true)
        let notifier = ArrowNotifier(socket: socket, backlogLimit: configuration.arrowNotificationBacklog, log: arrowEvents)
        session.notifier = notifier
        // Every event from now on, through the shared log (ArrowEventLog.swift), not an engine subscription each.
        arrowSubscribers[connection.client] = connection
        engine.publishesEveryEvent = true
        // What is already sealed, to this subscriber only (ARROW-2551): compact entries, encoded as the
        // socket drains, ahead of the events that follow; walked a slice a pass (StoreServer+ArrowSnapshot.swift).
        beginArrowSnapshot(for: connection, notifier)
    }

    /// Charges what the subscriber's backlog holds to its client-state budget share; past the share
    /// the subscription goes like one past `--arrow-notification-backlog` (Arrow has no overflow marker).
    /// False when it was dropped.
    @discardableResult
    private func chargeNotifier(_ notifier: ArrowNotifier, of connection: Connection) -> Bool {
        guard !chargeArrowBacklog(of: connection, to: notifier.heldBytes) else { return true }
        dropNotifier(of: connection, reason: "holds \(notifier.heldBytes) bytes of notifications, more than its share of --client-state-budget allows; its notification socket is closed")
        return false
    }

    /// The engine published `event` (while Arrow subscribers exist): logged once for all of them, handed
    /// out at the end of the pass (`handOutArrowEvents`).
    func logArrowEvent(_ event: ObjectEvent) {
        guard let entry = arrow.notification(for: event) else { return }
        arrowEvents.append(entry)
    }

    /// Once per pass, after the replies are flushed: every subscriber takes the events logged since the
    /// last pass (writing what its socket takes), is charged what it now holds, or is dropped past its
    /// bound; then the chunks every subscriber has read go. Per pass, not per event: one seal costs one
    /// append however many subscribers there are.
    func handOutArrowEvents() {
        guard arrowEvents.endSequence != arrowEventsHandedOut || arrowLogMayShrink else { return }
        arrowEventsHandedOut = arrowEvents.endSequence
        arrowLogMayShrink = false
        var leastCursor = arrowEvents.endSequence
        for connection in Array(arrowSubscribers.values) {
            guard let notifier = connection.arrow?.notifier else { continue }
            do {
                switch try notifier.catchUp() {
                case .sent: break
                case .held:
                    guard chargeNotifier(notifier, of: connection) else { continue }
                case .queued:
                    guard chargeNotifier(notifier, of: connection) else { continue }
                    watchNotifier(notifier, of: connection)
                case .overflow:
                    dropNotifier(of: connection, reason: "reads notifications too slowly (\(notifier.backlogCount) waiting, limit \(notifier.backlogLimit), --arrow-notification-backlog); its notification socket is closed")
                    continue
                }
            } catch {
                dropNotifier(of: connection, reason: notifierGone(error) ? nil : "notification write failed: \(error)")
                continue
            }
            leastCursor = min(leastCursor, notifier.cursor)
        }
        arrowEvents.discard(before: leastCursor)
    }

    /// Writes what the notification socket takes now; watches it for the rest.
    func flushNotifier(of connection: Connection) {
        guard let notifier = connection.arrow?.notifier else { return }
        do {
            let done = try notifier.flush()
            arrowLogMayShrink = true
            guard chargeNotifier(notifier, of: connection) else { return }
            if !done { watchNotifier(notifier, of: connection) }
        } catch {
            dropNotifier(of: connection, reason: notifierGone(error) ? nil : "notification write failed: \(error)")
        }
    }

    private func watchNotifier(_ notifier: ArrowNotifier, of connection: Connection) {
        guard !notifier.watchingWritable else { return }
        do {
            try loop.register(notifier.socket.rawValue, interest: .writable) { [unowned self, weak connection] _ in
                guard let connection, let notifier = connection.arrow?.notifier else { return }
                do throws(SystemError) {
                    let done = try notifier.flush()
                    arrowLogMayShrink = true
                    guard chargeNotifier(notifier, of: connection), done else { return }
                    loop.unregister(notifier.socket.rawValue)
                    notifier.watchingWritable = false
                } catch {
                    dropNotifier(of: connection, reason: notifierGone(error) ? nil : "notification write failed: \(error)")
                }
            }
            notifier.watchingWritable = true
        } catch {
            dropNotifier(of: connection, reason: "cannot watch its notification socket: \(error)")
        }
    }

    private func notifierGone(_ error: SystemError) -> Bool {
        error.errno == .brokenPipe || error.errno == .connectionReset
    }

    /// Closes the notification socket (the client reads EOF) and stops handing it events.
    /// `reason` nil: the client closed its end, an orderly end.
    func dropNotifier(of connection: Connection, reason: String?) {
        guard let session = connection.arrow, let notifier = session.notifier else { return }
        if notifier.watchingWritable { loop.unregister(notifier.socket.rawValue) }
        notifier.socket.close()
        session.notifier = nil
        chargeArrowBacklog(of: connection, to: 0)  // its backlog goes with it
        arrowSubscribers[connection.client] = nil
        arrowLogMayShrink = true  // it may have held the least position
        // The log's entries it alone still had to read go at the next hand-out; with no subscriber
        // left, all of them go now and nothing more is logged.
        if arrowSubscribers.isEmpty {
            engine.publishesEveryEvent = false
            arrowEvents.discard(before: arrowEvents.endSequence)
            arrowEventsHandedOut = arrowEvents.endSequence
        }
        guard let reason else { return }
        counters.droppedArrowSubscriptions += 1  // the notifications it never got: counted in `stats`
        logger.warning("\(connection.peerDescription): \(reason)")
    }

    /// Frees what the connection holds beyond its socket: the notification socket, unclaimed fds.
    func releaseDescriptors(of connection: Connection) {
        dropNotifier(of: connection, reason: nil)
        for descriptor in connection.receivedDescriptors { UnixSocket(rawValue: descriptor).close() }
        connection.receivedDescriptors.removeAll()
    }
}
