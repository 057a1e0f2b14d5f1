import PlasmaClusterCore
import PlasmaCore
import PlasmaEngine
import PlasmaPosix

/// The store's side of a cluster (docs/CLUSTER.md, issue 15), on the loop's thread.
///
/// - Local demand (StoreEngine+Demand.swift), settled once per pass: an id that began to be wanted is
///   `want`ed; one that ended is `unwant`ed unless a pull of it is under way.
/// - `.located`: a wanted id with a get still waiting is pulled from its first known location; once the
///   holder's authenticated reply confirmed the location's sizes, the puller asks (through the
///   mailbox) for an unsealed copy of exactly those sizes; the copy is sealed (origin recorded) when
///   the puller reports success, so that the waiters wake through the ordinary seal, or aborted, and
///   the next location tried (when none is left, the directory is asked again with backoff).
/// - `.wanted` by another node: if the id is sealed here its location is published; if it is sealed
///   later, then. Small objects with their XXH64 (data then metadata); big ones at once without it, then
///   again with it once the hasher is done (cached per object). A published id is unpublished when it
///   leaves the arena or no other node wants it any more.
/// - Transfer threads pin and unpin through the mailbox (ClusterObjectSource.swift).
///
/// Directory calls are batched; `flush` goes once per pass when something was batched.
extension StoreServer {
    /// Objects up to this size are hashed on the loop (tens of microseconds); bigger ones on the hasher.
    static let inlineChecksumBytes = 1 << 20

    /// Sets up the cluster side: the engine tracks demand, the mailbox joins the loop's epoll set, the
    /// directory's events go to the mailbox, the cluster's figures to `stats`.
    func attachCluster(_ attachment: ClusterAttachment) throws(SystemError) {
        let side = try ClusterSide(attachment: attachment)
        engine.enableCluster()
        cluster = side
        let mailbox = side.mailbox
        attachment.directory.setEventHandler { events in mailbox.post(.events(events)) }
        try loop.register(mailbox.signal.rawValue, interest: .readable) { [unowned self] _ in clusterMailboxReady() }
        let previous = engine.statisticsAddendum
        engine.statisticsAddendum = { [unowned self] statistics in
            previous(&statistics)
            cluster?.counters.fill(&statistics, pinnedObjects: engine.pinnedObjects)
            statistics.clusterPeersRefused = Int64(attachment.peersRefused())
            statistics.clusterTransferConnectionsRefused = Int64(attachment.transferConnectionsRefused())
        }
    }

    /// The store as its transfer listener serves it (pins and unpins from transfer threads); nil
    /// without a cluster.
    public var transferObjectSource: TransferObjectSource? {
        cluster.map { ClusterObjectSource(mailbox: $0.mailbox) }
    }

    /// The loop stops: the mailbox closes (waiting pins are answered nil) and the hasher ends. Objects
    /// still pinned stay pinned: the store is going away.
    func detachCluster() {
        guard let cluster else { return }
        // The hasher first: its jobs signal the mailbox's eventfd, which must not be closed (and its
        // number perhaps reused by another thread's descriptor) while one may still run.
        cluster.hasher.stop()
        loop.unregister(cluster.mailbox.signal.rawValue)
        cluster.mailbox.close()
    }

    // MARK: Once per pass

    /// Settles what the pass changed: demand to wants, watched seals to locations, objects gone to
    /// unpublishes; then one flush if anything was batched.
    func clusterPassEnded() {
        guard let cluster else { return }
        if engine.hasDemandChanges {
            let (began, ended) = engine.takeDemandChanges()
            for id in began { demandBegan(id, cluster) }
            for id in ended { demandEnded(id, cluster) }
        }
        // Gone first: an id deleted and sealed again in one pass is unpublished (its old checksum
        // dropped), then offered with its new bytes; the other order left it unpublished.
        for id in engine.takeLeftArena() { leftArena(id, cluster) }
        for id in engine.takeWatchedSeals() { offer(id, cluster) }
        if !cluster.retries.isEmpty { retryDue(cluster) }
        if !cluster.hashesDue.isEmpty { startDueHashes(cluster) }
        if cluster.unflushed {
            cluster.unflushed = false
            cluster.attachment.directory.flush()
        }
    }

    /// Something the engine noted after this pass's settling (a connection closed while replies were
    /// flushed ends its waits): settled in a pass that doesn't sleep first.
    var clusterHasPendingWork: Bool {
        engine.hasDemandChanges || engine.hasClusterNews || cluster?.unflushed == true
    }

    /// When the loop must wake for the cluster's sake (a pull retry, a hash due), if ever.
    var clusterNextDeadline: UInt64? {
        guard let cluster else { return nil }
        // A hash waiting for a peer's pull to end is started by the pass that ends it, or at its latest.
        let hash = cluster.hashesDue.lazy.map { cluster.peerPins[$0.key] == nil ? $0.value.earliest : $0.value.latest }.min()
        guard let retry = cluster.nextRetry else { return hash }
        return min(retry, hash ?? .max)
    }

    private func demandBegan(_ id: ObjectID, _ cluster: ClusterSide) {
        if cluster.wanted.insert(id).inserted {
            cluster.attachment.directory.want([id])
            cluster.counters.wantsPublished += 1
            cluster.unflushed = true
        }
        if cluster.pulls[id] == nil, cluster.candidates[id]?.isEmpty == false { startPull(id, cluster) }
    }

    private func demandEnded(_ id: ObjectID, _ cluster: ClusterSide) {
        guard cluster.pulls[id] == nil else { return }  // its end decides
        dropWant(id, cluster)
    }

    private func dropWant(_ id: ObjectID, _ cluster: ClusterSide) {
        cluster.candidates[id] = nil
        cluster.retries[id] = nil
        guard cluster.wanted.remove(id) != nil else { return }
        cluster.attachment.directory.unwant([id])
        cluster.unflushed = true
    }

    private func leftArena(_ id: ObjectID, _ cluster: ClusterSide) {
        cluster.checksums[id] = nil
        cluster.hashesDue[id] = nil
        guard cluster.published.remove(id) != nil else { return }
        cluster.attachment.directory.unpublish([id])
        cluster.unflushed = true
    }

    // MARK: The mailbox

    private func clusterMailboxReady() {
        guard let cluster else { return }
        for message in cluster.mailbox.take() {
            switch message {
            case .events(let events): for event in events { handle(event, cluster) }
            case .reservePull(let id, let location, let dataSize, let metadataSize, let answer):
                answer.give(reserveForPull(id, from: location, dataSize: dataSize, metadataSize: metadataSize, cluster))
            case .pullEnded(let id, let location, let result): pullEnded(id, from: location, result, cluster)
            case .pin(let id, let answer):
                let pinned = pinForPeer(id)
                if pinned != nil { cluster.peerPins[id, default: 0] += 1 }
                answer.give(pinned)
            case .unpin(let id):
                engine.unpin(id)
                if let pins = cluster.peerPins[id] { cluster.peerPins[id] = pins > 1 ? pins - 1 : nil }
            }
        }
        for computed in cluster.hasher.takeOutputs() { checksumComputed(computed, cluster) }
        // Effects (pulls sealed, locations published) are settled and flushed at the end of the pass.
    }

    private func pinForPeer(_ id: ObjectID) -> PinnedObject? {
        guard let location = engine.pin(id) else { return nil }
        let size = location.dataSize + location.metadataSize
        return PinnedObject(
            id: id, arenaDescriptor: arena.descriptor, offset: location.offset, dataSize: location.dataSize,
            metadataSize: location.metadataSize,
            bytes: UnsafeRawBufferPointer(start: size == 0 ? nil : arena.base + location.offset, count: size))
    }

    private func handle(_ event: ClusterEvent, _ cluster: ClusterSide) {
        let local = cluster.attachment.nodeName
        switch event {
        case .wanted(let id, let node) where node != local:
            if cluster.remoteWants[id, default: []].insert(node).inserted, cluster.remoteWants[id]!.count == 1 {
                engine.watchSeal(of: id, true)
            }
            offer(id, cluster)
        case .unwanted(let id, let node) where node != local:
            guard cluster.remoteWants[id]?.remove(node) != nil, cluster.remoteWants[id]!.isEmpty else { return }
            cluster.remoteWants[id] = nil
            engine.watchSeal(of: id, false)
            // Nobody else wants it any more: withdraw the location, or every id ever pulled from here
            // would keep a key in etcd for as long as it stays in the arena.
            if cluster.published.remove(id) != nil {
                cluster.attachment.directory.unpublish([id])
                cluster.unflushed = true
            }
        case .wanted, .unwanted:
            break  // this node's own want, as the directory watches every want
        case .located(let location):
            guard location.node != local, cluster.wanted.contains(location.id) else { return }
            var known = cluster.candidates[location.id, default: []]
            known.removeAll { $0.node == location.node }
            known.append(location)
            cluster.candidates[location.id] = known
            if cluster.pulls[location.id] == nil, engine.hasDemand(for: location.id) { startPull(location.id, cluster) }
        case .locationGone(let id, let node):
            cluster.candidates[id]?.removeAll { $0.node == node }
        case .publishRefused(let id, let firstNode):
            cluster.counters.publishesRefused += 1
            warn("the directory refused this node's location of \(id.hex): \(firstNode) published it first with other bytes", cluster)
        case .disconnected:
            logger.warning("the cluster directory lost etcd: wants and locations may be stale until it reconnects; local service goes on")
        case .reconnected:
            // Its `.located` events for the re-published wants follow; what was known may be stale.
            cluster.candidates.removeAll()
            logger.info("the cluster directory reached etcd again and re-published this node's wants and locations")
        }
    }

    private func warn(_ message: @autoclosure () -> String, _ cluster: ClusterSide) {
        let (log, suppressed) = cluster.warnings.admit(now: clock.monotonicNanoseconds())
        guard log else { return }
        logger.warning("\(message())\(suppressed > 0 ? " (\(suppressed) similar lines suppressed before this one)" : "")")
    }

    // MARK: Pulling

    /// Pulls `id` from its first known location. Nothing is reserved yet: the puller asks for the block
    /// (``reserveForPull``) only once the holder has authenticated the sizes, so that a forged location
    /// makes no room.
    private func startPull(_ id: ObjectID, _ cluster: ClusterSide) {
        // A location that carries the bytes first: copied without a connection.
        let carrying = cluster.attachment.inlineCopies == nil ? nil : cluster.candidates[id]?.first { $0.inline != nil }
        guard let location = carrying ?? cluster.candidates[id]?.first else { return }
        if location.inline != nil, copyInline(id, location, cluster) { return }
        cluster.pulls[id] = PullUnderWay(location: location)
        cluster.counters.pullsStarted += 1
        let mailbox = cluster.mailbox
        let request = PullRequest(location: location) { dataSize, metadataSize in
            let answer = LoopAnswer<UnsafeMutableRawBufferPointer?>()
            guard mailbox.post(.reservePull(id, location, dataSize: dataSize, metadataSize: metadataSize, answer)) else { return nil }
            return answer.wait()
        }
        cluster.attachment.puller.pull(request) { result in
            mailbox.post(.pullEnded(id, location, result))
        }
    }

    /// Seals the bytes `location` carries as this node's copy of `id`, if they are authentic (the MAC
    /// under the cluster token verifies, before any room is made) and hash to its checksum; true when
    /// that settled the demand for now (copied, the object exists here meanwhile, or no room: retried),
    /// false to pull it instead. Bytes over this node's own `--cluster-inline-max` are not used.
    private func copyInline(_ id: ObjectID, _ location: ClusterLocation, _ cluster: ClusterSide) -> Bool {
        guard let inline = location.inline, let authenticator = cluster.attachment.inlineCopies,
              inline.bytes.count <= cluster.attachment.inlineCopyMaximumBytes
        else { return false }
        guard let checksum = location.checksum, authenticator.isAuthentic(inline, of: location),
              inline.bytes.withUnsafeBytes({ XXH64.hash($0) }) == checksum
        else {
            cluster.counters.inlineCopiesRefused += 1
            warn("the bytes the location of \(id.hex) from node \(Self.printable(location.node)) carries fail their MAC or checksum (another cluster token, or forged in etcd): pulling it instead", cluster)
            if let index = cluster.candidates[id]?.firstIndex(of: location) { cluster.candidates[id]?[index].inline = nil }
            return false
        }
        switch engine.reservePull(id, dataSize: location.dataSize, metadataSize: location.metadataSize) {
        case .success(let block):
            if !inline.bytes.isEmpty {
                inline.bytes.withUnsafeBytes { (arena.base + block.offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            }
            sealCopy(id, from: location, checksum: checksum, cluster)
            cluster.counters.inlineCopies += 1
            return true
        case .failure(let error) where error.status == .objectExists:
            return true  // created here meanwhile: its demand ends with it
        case .failure(let error) where error.status == .outOfMemory:
            // The bytes are fine; a pull would fail the same way. Asked again with backoff while a get waits.
            warn("no room to copy \(id.hex) (\(location.totalSize) bytes) from its location: \(error.message)", cluster)
            if engine.hasDemand(for: id) { scheduleRetry(id, cluster) } else { dropWant(id, cluster) }
            return true
        case .failure:
            return false
        }
    }

    /// A name read from etcd, for a log line: at most 64 characters, control characters as `?`.
    static func printable(_ name: String) -> String {
        String(String.UnicodeScalarView(name.unicodeScalars.prefix(64).map { $0.properties.generalCategory == .control ? "?" : $0 }))
    }

    /// Seals the copy of `id` made in its reserved block (pulled, or from the location's bytes) with its
    /// origin recorded, and ends this node's want: the waiters wake through the ordinary seal.
    private func sealCopy(_ id: ObjectID, from location: ClusterLocation, checksum: UInt64, _ cluster: ClusterSide) {
        engine.sealPull(id, origin: location.node)
        // The copy's checksum is known: publishing it later needs no hashing.
        if engine.sealedLocation(of: id) != nil {
            cluster.checksums[id] = checksum
            engine.trackLeaving(id)
        }
        dropWant(id, cluster)
    }

    /// The block for a pull whose holder confirmed the sizes, or nil (the reason kept for its end).
    private func reserveForPull(
        _ id: ObjectID, from location: ClusterLocation, dataSize: Int, metadataSize: Int, _ cluster: ClusterSide
    ) -> UnsafeMutableRawBufferPointer? {
        guard var pull = cluster.pulls[id], pull.location == location, !pull.reserved,
              dataSize == location.dataSize, metadataSize == location.metadataSize
        else { return nil }
        switch engine.reservePull(id, dataSize: dataSize, metadataSize: metadataSize) {
        case .success(let block):
            pull.reserved = true
            cluster.pulls[id] = pull
            let size = dataSize + metadataSize
            return UnsafeMutableRawBufferPointer(start: size == 0 ? nil : arena.base + block.offset, count: size)
        case .failure(let error):
            pull.declined = error
            cluster.pulls[id] = pull
            return nil
        }
    }

    private func pullEnded(_ id: ObjectID, from location: ClusterLocation, _ result: Result<PulledCopy, PullFailure>, _ cluster: ClusterSide) {
        guard let pull = cluster.pulls[id], pull.location == location else { return }
        cluster.pulls[id] = nil
        switch result {
        case .success(let copy) where pull.reserved:
            sealCopy(id, from: location, checksum: copy.checksum, cluster)
            cluster.counters.pullsSucceeded += 1
            cluster.counters.pulledBytes += location.totalSize
        case .success:
            // A puller that never asked for the block: nothing to seal (a broken puller, not a peer).
            cluster.counters.pullsFailed += 1
            if engine.hasDemand(for: id) { startPull(id, cluster) } else { dropWant(id, cluster) }
        case .failure(let failure):
            if pull.reserved { engine.abortPull(id) }
            cluster.counters.pullsFailed += 1
            if let declined = pull.declined {
                switch declined.status {
                case .objectExists:
                    return  // created (or being pulled) here meanwhile: its demand ends with it
                case .outOfMemory:
                    // No room now: the location is fine; try again with backoff while a get waits.
                    warn("no room to pull \(id.hex) (\(location.totalSize) bytes) from \(location.node): \(declined.message)", cluster)
                    guard engine.hasDemand(for: id) else { return dropWant(id, cluster) }
                    return scheduleRetry(id, cluster)
                default:
                    warn("cannot pull \(id.hex) from \(location.node): \(declined.message)", cluster)
                }
            } else {
                warn("pulling \(id.hex) from \(location.node) (\(location.transferAddress)) failed: \(failure)", cluster)
            }
            cluster.candidates[id]?.removeAll { $0.node == location.node }
            guard engine.hasDemand(for: id) else { return dropWant(id, cluster) }
            startPull(id, cluster)
            // No location left to try: the directory reports each once, so ask it again later (the
            // failed one may serve then: a listener not yet up, a refusal that was temporary).
            if cluster.pulls[id] == nil { scheduleRetry(id, cluster) }
        }
    }

    /// Asks the directory again for the locations of `id` after the first delay, unless a retry is
    /// already set (its own backoff goes on).
    private func scheduleRetry(_ id: ObjectID, _ cluster: ClusterSide) {
        guard cluster.retries[id] == nil else { return }
        let now = clock.monotonicNanoseconds()
        cluster.retries[id] = PullRetry(due: now + PullRetry.firstDelay, delay: PullRetry.firstDelay)
    }

    /// Asks the directory again for the locations of wanted ids whose retry is due (`.located` follows
    /// for each present one), and sets the next retry, the delay doubling up to 2 s, while a get waits.
    private func retryDue(_ cluster: ClusterSide) {
        let now = clock.monotonicNanoseconds()
        var due: [ObjectID] = []
        for (id, retry) in cluster.retries where retry.due <= now {
            guard cluster.wanted.contains(id), engine.hasDemand(for: id) else {
                cluster.retries[id] = nil
                continue
            }
            if cluster.pulls[id] != nil {
                cluster.retries[id]?.due = now + retry.delay  // under way: its failure, if any, waits for this
                continue
            }
            let delay = min(retry.delay * 2, PullRetry.maximumDelay)
            cluster.retries[id] = PullRetry(due: now + delay, delay: delay)
            due.append(id)
        }
        guard !due.isEmpty else { return }
        cluster.attachment.directory.relocate(due)
        cluster.unflushed = true
    }

    // MARK: Publishing

    /// Publishes the location of `id` if another node wants it and it is sealed here, once. A small
    /// object is hashed on the loop first; a big one is published at once without its checksum, hashed
    /// on the hasher later (``startDueHashes(_:)``), then published again with it: the hash stays out of
    /// the path of a cross-node get (docs/CLUSTER.md, "First location wins").
    private func offer(_ id: ObjectID, _ cluster: ClusterSide) {
        guard cluster.remoteWants[id] != nil, !cluster.published.contains(id),
              let location = engine.sealedLocation(of: id)
        else { return }
        if let checksum = cluster.checksums[id] { return publish(id, location, checksum, cluster) }
        let size = location.dataSize + location.metadataSize
        guard size > Self.inlineChecksumBytes else {
            let bytes = UnsafeRawBufferPointer(start: size == 0 ? nil : arena.base + location.offset, count: size)
            cluster.checksums[id] = XXH64.hash(bytes)
            return publish(id, location, cluster.checksums[id], cluster)
        }
        publish(id, location, nil, cluster)
        guard !cluster.hashing.contains(id), cluster.hashesDue[id] == nil else { return }
        cluster.hashesDue[id] = HashDue(from: clock.monotonicNanoseconds())
    }

    /// Hands the hasher the objects whose hashing is due and that no peer is pulling, or whose latest
    /// time has come (each pinned while it is hashed). Hashing at once took a CPU from the wanting
    /// node's pull on a 2-core machine (docs/CLUSTER.md, "The origin hashes after the pull"); the
    /// checksum completes `first/`, which a later publisher of the id waits for.
    private func startDueHashes(_ cluster: ClusterSide) {
        let now = clock.monotonicNanoseconds()
        for (id, due) in cluster.hashesDue where due.hasCome(now, pulled: cluster.peerPins[id] != nil) {
            cluster.hashesDue[id] = nil
            guard !cluster.hashing.contains(id) else { continue }
            guard let pinned = engine.pin(id) else {
                // Not pinnable now (a spill under way) but still here: again later, or it would stay
                // without its checksum for good.
                if engine.sealedLocation(of: id) != nil { cluster.hashesDue[id] = HashDue(from: now) }
                continue
            }
            cluster.hashing.insert(id)
            let bytes = UnsafeRawBufferPointer(start: arena.base + pinned.offset, count: pinned.dataSize + pinned.metadataSize)
            cluster.hasher.submit { ComputedChecksum(id: id, checksum: XXH64.hash(bytes)) }
        }
    }

    private func checksumComputed(_ computed: ComputedChecksum, _ cluster: ClusterSide) {
        if cluster.hashing.remove(computed.id) != nil { engine.unpin(computed.id) }
        guard let location = engine.sealedLocation(of: computed.id) else { return }  // deleted at the unpin
        cluster.checksums[computed.id] = computed.checksum
        engine.trackLeaving(computed.id)
        guard cluster.published.contains(computed.id) else { return offer(computed.id, cluster) }
        // Published without it: the same location again, now with the checksum (completes `first/`).
        cluster.attachment.directory.publish([clusterLocation(computed.id, location, computed.checksum, cluster)])
        cluster.unflushed = true
    }

    private func publish(_ id: ObjectID, _ location: ObjectLocation, _ checksum: UInt64?, _ cluster: ClusterSide) {
        cluster.attachment.directory.publish([clusterLocation(id, location, checksum, cluster)])
        cluster.published.insert(id)
        engine.trackLeaving(id)
        cluster.counters.locationsPublished += 1
        cluster.unflushed = true
    }

    /// This node's location of `id`; a small object's carries its bytes and their MAC (``InlineCopy``).
    private func clusterLocation(_ id: ObjectID, _ location: ObjectLocation, _ checksum: UInt64?, _ cluster: ClusterSide) -> ClusterLocation {
        var published = ClusterLocation(
            id: id, node: cluster.attachment.nodeName, transferAddress: cluster.attachment.transferAddress,
            dataSize: location.dataSize, metadataSize: location.metadataSize, checksum: checksum)
        let size = location.dataSize + location.metadataSize
        if checksum != nil, size <= cluster.attachment.inlineCopyMaximumBytes, let authenticator = cluster.attachment.inlineCopies {
            let bytes = [UInt8](UnsafeRawBufferPointer(start: size == 0 ? nil : arena.base + location.offset, count: size))
            published.inline = InlineCopy(bytes: bytes, mac: authenticator.inlineMAC(for: published, bytes: bytes))
        }
        return published
    }
}
