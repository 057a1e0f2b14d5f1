import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// Serving Arrow Plasma clients (pyarrow 11, libplasma 11) on the native socket: frames in, requests
/// onto the engine with Arrow's semantics (StoreEngine+Arrow.swift), Arrow replies and fds out.
///
/// Where Arrow's store aborted (`ARROW_CHECK`) on a client's mistake, this answers with an error the
/// client can take, or ignores it, or disconnects that one client, always with a log line.
extension StoreServer {
    /// Arrow clients know the arena as one segment named by the arena's fd number: open for the store's
    /// whole life, so never reused for another file (Arrow clients cache mappings by that number).
    var arrowSegment: Int32 { arena.descriptor }
    /// Arrow's mmap_size includes its 8-byte gap (`kMmapRegionsGap`): clients map mmap_size - 8 bytes.
    var arrowMmapSize: Int64 { Int64(arena.size) + 8 }

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
        engine.adoptArrowDialect(connection.client)
        logger.info("\(connection.peerDescription) speaks the Arrow plasma dialect")
        return true
    }

    // MARK: Frames

    /// Executes every complete Arrow frame in `raw` (and the fd byte that follows a Subscribe); returns
    /// the bytes consumed. Closes the connection on anything malformed.
    func processArrowFrames(_ raw: UnsafeRawBufferPointer, on connection: Connection) -> Int {
        guard let session = connection.arrow else { return 0 }
        var offset = 0
        while !connection.isClosed {
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
            handleArrow(request, on: connection, session)
        }
        return offset
    }

    // MARK: Requests

    private func handleArrow(_ request: ArrowRequest, on connection: Connection, _ session: ArrowSession) {
        let client = connection.client
        switch request {
        case .connect:
            sendArrow(.connect(memoryCapacity: Int64(configuration.capacity)), to: connection)

        case .create(let id, let evictIfFull, let dataSize, let metadataSize, let deviceNum):
            switch engine.arrowCreate(id: id, dataSize: dataSize, metadataSize: metadataSize, evictIfFull: evictIfFull,
                                      deviceNum: deviceNum, client: client) {
            case .created(let location):
                sendArrow(.create(id: id, spec: arrowSpec(location), error: .ok, storeFd: arrowSegment, mmapSize: arrowMmapSize),
                          to: connection, passingArena: true)
            case .failed(let error):
                // plasma_object is dereferenced even on error: send it zeroed. No fd follows.
                let zero = ArrowObjectSpec(segmentIndex: 0, dataOffset: 0, dataSize: 0, metadataOffset: 0, metadataSize: 0)
                sendArrow(.create(id: id, spec: zero, error: error, storeFd: 0, mmapSize: 0), to: connection)
            }

        case .createAndSeal(let id, let evictIfFull, let data, let metadata, let digest):
            let error = engine.arrowCreateAndSeal(
                id: id, data: data, metadata: metadata, digest: digest, evictIfFull: evictIfFull, client: client)
            sendArrow(.createAndSeal(error: error), to: connection)

        case .createAndSealBatch(let ids, let evictIfFull, let data, let metadata, let digests):
            let error = engine.arrowCreateAndSealBatch(
                ids: ids, data: data, metadata: metadata, digests: digests, evictIfFull: evictIfFull, client: client)
            sendArrow(.createAndSealBatch(error: error), to: connection)

        case .abort(let id):
            // AbortReply has no error field; Arrow's store aborted on a bad abort. Log and echo the id.
            if case .failure(_, let message) = engine.abort(id, by: client) {
                logger.warning("\(connection.peerDescription): Arrow abort of \(id.hex) refused: \(message)")
            }
            sendArrow(.abort(id: id), to: connection)

        case .seal(let id, let digest):
            let status = engine.arrowSeal(id, digest: digest, by: client)
            if status != .ok { logger.warning("\(connection.peerDescription): Arrow seal of \(id.hex) refused: \(status.summary)") }
            sendArrow(.seal(id: id, error: Self.arrowSealError(status)), to: connection)

        case .get(let ids, let timeoutMs):
            // Answered through the engine's reply sink, maybe much later (blocking get): arrowGetAnswered.
            engine.get(ids, timeout: timeoutMs, key: WaitKey(client: client, requestID: session.startGet(ids)))

        case .release(let id):
            // No reply in Arrow's protocol; Arrow's store aborted on an unheld release.
            let status = engine.release(id, by: client)
            if status != .ok { logger.warning("\(connection.peerDescription): Arrow release of \(id.hex) ignored: \(status.summary)") }

        case .delete(let ids):
            sendArrow(.delete(ids: ids, errors: engine.arrowDelete(ids)), to: connection)

        case .contains(let id):
            sendArrow(.contains(id: id, hasObject: engine.arrowContains(id)), to: connection)

        case .list:
            sendArrow(.list(engine.arrowList()), to: connection)

        case .evict(let numBytes):
            let (bytes, _) = engine.evict(atLeast: Int(clamping: numBytes))
            sendArrow(.evict(numBytes: UInt64(bytes)), to: connection)

        case .subscribe:
            // No reply; the client's notification fd follows in a 1-byte message of its own.
            session.awaitingSubscribeDescriptor = true

        case .setOptions(let name, let quota):
            let error = engine.arrowSetOptions(name: name, quota: quota, client: client)
            if error != .ok { logger.warning("\(connection.peerDescription): Arrow quota of \(quota) bytes for '\(name)' refused") }
            sendArrow(.setOptions(error: error), to: connection)

        case .getDebugString:
            sendArrow(.getDebugString(engine.arrowDebugString()), to: connection)

        case .refreshLRU(let ids):
            engine.arrowRefreshLRU(ids)
            sendArrow(.refreshLRU, to: connection)
        }
    }

    /// SealReply's error must be 0...3 (pyarrow aborts on others): already sealed reads as "exists",
    /// anything else (unknown id, not the creator) as "not found".
    static func arrowSealError(_ status: PlasmaStatus) -> ArrowPlasmaError {
        switch status {
        case .ok: .ok
        case .objectAlreadySealed: .objectExists
        default: .objectNotFound
        }
    }

    private func arrowSpec(_ location: ObjectLocation) -> ArrowObjectSpec {
        ArrowObjectSpec(
            segmentIndex: arrowSegment, dataOffset: UInt64(location.offset), dataSize: UInt64(location.dataSize),
            metadataOffset: UInt64(location.offset + location.dataSize), metadataSize: UInt64(location.metadataSize))
    }

    // MARK: Replies

    /// Queues `reply`; with `passingArena`, then the arena fd in a 1-byte message of its own if this
    /// client hasn't had it (Arrow's client reads the reply with plain reads, then recvmsg's 1 byte).
    private func sendArrow(_ reply: ArrowReply, to connection: Connection, passingArena: Bool = false) {
        guard !connection.isClosed, connection.closeReason == nil else { return }
        if connection.outbound.pendingBytes > configuration.maxPendingReplyBytes {
            connection.closeReason = "stopped reading replies (\(connection.outbound.pendingBytes) bytes queued, limit \(configuration.maxPendingReplyBytes))"
            doom(connection)
            return
        }
        connection.outbound.writer.buffer.append(contentsOf: reply.encode())
        if passingArena, let session = connection.arrow, !session.sentArena {
            connection.outbound.attachDescriptorToNextByte(arena.descriptor, alone: true)
            connection.outbound.writer.buffer.append(0)
            session.sentArena = true
        }
        schedule(connection)
    }

    /// The engine answered an Arrow get (at once, on the last seal it waited for, or at its timeout).
    func arrowGetAnswered(_ reply: Reply, requestID: UInt64, on connection: Connection) {
        guard let ids = connection.arrow?.finishGet(requestID) else { return }
        var locations = [ObjectLocation?](repeating: nil, count: ids.count)
        switch reply {
        case .objects(let found) where found.count == ids.count: locations = found
        case .failure(_, let message):
            logger.warning("\(connection.peerDescription): Arrow get answered as not found: \(message)")
        default: break
        }
        let found = locations.contains { $0 != nil }
        sendArrow(
            .get(ids: ids, specs: locations.map { $0.map(arrowSpec) ?? .notFound },
                 storeFds: found ? [arrowSegment] : [], mmapSizes: found ? [arrowMmapSize] : []),
            to: connection, passingArena: found)
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
        let notifier = ArrowNotifier(socket: socket, backlogLimit: configuration.arrowNotificationBacklog)
        session.notifier = notifier
        _ = engine.subscribe(SubscriptionKey(client: connection.client, subscriptionID: Self.arrowSubscriptionID), filter: .all)
        // What is already sealed, to this subscriber only (ARROW-2551): compact entries, encoded as the
        // socket drains, ahead of the events that follow.
        notifier.queueSnapshot(engine.arrowSealedObjects())
        flushNotifier(of: connection)
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

    /// The engine subscription an Arrow client's Subscribe becomes (it has one at most).
    static var arrowSubscriptionID: UInt64 { 1 }

    /// An engine event for an Arrow subscriber: seals and removals become notifications; aborts are
    /// not announced in Arrow's protocol.
    func arrowEvent(_ event: ObjectEvent, on connection: Connection) {
        guard connection.arrow?.notifier != nil else { return }
        let entry: ArrowNotifier.Pending
        switch event {
        case .sealed(let id, let dataSize, let metadataSize):
            entry = .sealed(id: id, dataSize: Int64(dataSize), metadataSize: Int64(metadataSize), digest: engine.arrowDigest(of: id))
        case .deleted(let id), .evicted(let id):
            entry = .deleted(id: id)
        case .aborted, .overflow:
            return
        }
        notifyArrow(entry, on: connection)
    }

    private func notifyArrow(_ entry: ArrowNotifier.Pending, on connection: Connection) {
        guard let notifier = connection.arrow?.notifier else { return }
        do {
            switch try notifier.send(entry) {
            case .sent: break
            case .queued:
                guard chargeNotifier(notifier, of: connection) else { return }
                watchNotifier(notifier, of: connection)
            case .overflow:
                dropNotifier(of: connection, reason: "reads notifications too slowly (\(notifier.pendingNotifications) waiting, limit \(notifier.backlogLimit), --arrow-notification-backlog); its notification socket is closed")
            }
        } catch {
            dropNotifier(of: connection, reason: notifierGone(error) ? nil : "notification write failed: \(error)")
        }
    }

    /// Writes what the notification socket takes now; watches it for the rest.
    private func flushNotifier(of connection: Connection) {
        guard let notifier = connection.arrow?.notifier else { return }
        do {
            let done = try notifier.flush()
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

    /// Closes the notification socket (the client reads EOF) and ends the engine subscription.
    /// `reason` nil: the client closed its end, an orderly end.
    func dropNotifier(of connection: Connection, reason: String?) {
        guard let session = connection.arrow, let notifier = session.notifier else { return }
        if notifier.watchingWritable { loop.unregister(notifier.socket.rawValue) }
        notifier.socket.close()
        session.notifier = nil
        chargeArrowBacklog(of: connection, to: 0)  // its backlog goes with it
        _ = engine.unsubscribe(SubscriptionKey(client: connection.client, subscriptionID: Self.arrowSubscriptionID))
        guard let reason else { return }
        engine.droppedArrowSubscriptions += 1  // the notifications it never got: counted in `stats`
        logger.warning("\(connection.peerDescription): \(reason)")
    }

    /// Frees what the connection holds beyond its socket: the notification socket, unclaimed fds.
    func releaseDescriptors(of connection: Connection) {
        dropNotifier(of: connection, reason: nil)
        for descriptor in connection.receivedDescriptors { UnixSocket(rawValue: descriptor).close() }
        connection.receivedDescriptors.removeAll()
    }
}
