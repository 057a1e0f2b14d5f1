#if Cluster
import PlasmaClusterCore

extension EtcdDirectory {
    /// Grants the lease, registers this node, then keeps the lease alive and watches wants and locations.
    /// Throws when etcd can't be reached now. The directory's tasks hold it until ``stop()``.
    public func start() async throws {
        let lease = try await client.grantLease(ttl: configuration.leaseTTL)
        do {
            // Only if no live node has the name, or the very same record (this store restarted before its
            // old lease expired): two stores under one name (the default is the host name) would
            // overwrite each other's keys and revoke each other's registration.
            let key = keys.node(localNode.name)
            let record = DirectoryRecords.node(localNode)
            let put = EtcdOperation.put(key: key, value: record, lease: lease)
            let registered = try await client.transaction(compare: [.createRevision(key: key, equals: 0)], success: [put])
            if !registered.succeeded {
                let restarted = try await client.transaction(compare: [.value(key: key, equals: record)], success: [put])
                guard restarted.succeeded else { throw DirectoryError.nameTaken(localNode.name) }
            }
        } catch {
            try? await client.revokeLease(lease)
            throw error
        }
        state.withLock {
            $0.lease = lease
            $0.connected = true
        }
        tasks.withLock {
            $0.writer = Task(executorPreference: EtcdEventLoop.executor) { await self.runWriter() }
            $0.supervisor = Task(executorPreference: EtcdEventLoop.executor) { await self.supervise() }
        }
        startWatches()
        logger.info("registered in etcd as \(localNode.name) (lease \(lease), TTL \(configuration.leaseTTL) s, transfer address \(localNode.transferAddress))")
    }

    /// Revokes the lease, so that this node's record, wants and locations vanish at once, and stops the
    /// tasks. The directory can't be started again.
    public func stop() async {
        let lease = state.withLock { state in
            state.stopped = true
            state.connected = false
            state.supervisorNap?.cancel()
            return state.lease
        }
        let running = tasks.withLock { tasks in
            defer { tasks = DirectoryTasks() }
            return tasks
        }
        running.supervisor?.cancel()
        running.watches.forEach { $0.cancel() }
        writes.finish()  // the writer drains what is queued without sending it, then ends
        if lease != 0 {
            do {
                try await client.revokeLease(lease)
                logger.info("left the cluster: lease \(lease) revoked")
            } catch {
                logger.warning("could not revoke lease \(lease) (its keys go when it expires): \(error)")
            }
        }
    }

    /// Stops every task without revoking the lease, as a crash of the store would: its keys stay until the
    /// lease expires. For tests of expiry.
    func halt() {
        state.withLock { state in
            state.stopped = true
            state.connected = false
            state.supervisorNap?.cancel()
        }
        let running = tasks.withLock { tasks in
            defer { tasks = DirectoryTasks() }
            return tasks
        }
        running.supervisor?.cancel()
        running.watches.forEach { $0.cancel() }
        writes.finish()
    }

    /// Keeps the lease alive every third of its TTL; after a failure, reports `.disconnected` and
    /// reconnects with backoff, then reports `.reconnected`.
    func supervise() async {
        let interval = Duration.milliseconds(configuration.leaseTTL * 1000 / 3)
        var failures = 0
        var lastLogged: ContinuousClock.Instant?
        while !Task.isCancelled {
            let (connected, needsResync, lease) = state.withLock { ($0.connected, $0.needsResync, $0.lease) }
            if connected && !needsResync {
                await nap(interval)
                guard !Task.isCancelled else { return }
                if state.withLock({ $0.needsResync }) { continue }
                do {
                    try await client.keepAlive(lease: lease)
                    retryDeferred()  // in case the change a deferred publish waits for was missed
                } catch {
                    if !Task.isCancelled { disconnect("keepalive failed: \(error)") }
                }
                continue
            }
            if connected { disconnect("a write failed") }
            do {
                try await reconnect(replacing: lease)
                failures = 0
                lastLogged = nil
            } catch {
                guard !Task.isCancelled else { return }
                failures += 1
                // One line at the first failure, then at most one every 30 s.
                let now = ContinuousClock.now
                if lastLogged.map({ now - $0 >= .seconds(30) }) ?? true {
                    logger.warning("etcd still unreachable after \(failures) attempt(s), retrying: \(error)")
                    lastLogged = now
                }
                await nap(.milliseconds(min(2000, 50 << min(failures, 6))))
            }
        }
    }

    /// Marks etcd lost: no writes are sent, the watches stop, the store hears `.disconnected` once.
    private func disconnect(_ reason: String) {
        let wasConnected = state.withLock { state in
            defer { state.connected = false }
            return state.connected && !state.stopped
        }
        stopWatches()
        guard wasConnected else { return }
        logger.warning("lost etcd: \(reason)")
        emit([.disconnected])
    }

    /// Revokes the old lease (dropping keys this node may have withdrawn meanwhile), grants a new one,
    /// puts this node's record, wants and locations under it, reports `.reconnected`, restarts the watches.
    private func reconnect(replacing oldLease: Int64) async throws(EtcdError) {
        if oldLease != 0 {
            try await client.revokeLease(oldLease)
            state.withLock { $0.lease = 0 }
        }
        let lease = try await client.grantLease(ttl: configuration.leaseTTL)
        // Connected before the writer takes its snapshot of this node's state: a want or publish made after
        // the snapshot is flushed to the writer (behind the re-registration), not dropped.
        state.withLock { state in
            state.lease = lease
            state.connected = !state.stopped
        }
        let registered = await withCheckedContinuation { (done: CheckedContinuation<Bool, Never>) in
            if case .terminated = writes.yield(.reregister(lease: lease, done: done)) { done.resume(returning: false) }
        }
        guard registered else {
            state.withLock { $0.connected = false }
            throw .unreachable("re-registration under lease \(lease) failed")
        }
        let stopped = state.withLock { state in
            state.needsResync = false
            state.reannounceLocations = true
            return state.stopped
        }
        guard !stopped else { return }
        logger.notice("reconnected to etcd: lease \(lease), node, wants and locations registered again")
        emit([.reconnected])
        startWatches()
    }

    /// A writer or a watch saw etcd fail: wake the supervisor to check now.
    func troubleSeen(_ reason: String, resync: Bool) {
        logger.debug("etcd trouble: \(reason)")
        state.withLock { state in
            if resync { state.needsResync = true }
            state.supervisorNap?.cancel()
        }
    }

    /// Sleeps `duration`, or less when ``troubleSeen(_:resync:)`` or stop cuts it short.
    private func nap(_ duration: Duration) async {
        let sleeper = Task { _ = try? await Task.sleep(for: duration) }
        let stopped = state.withLock { state in
            state.supervisorNap = sleeper
            return state.stopped
        }
        if stopped { sleeper.cancel() }
        await withTaskCancellationHandler { await sleeper.value } onCancel: { sleeper.cancel() }
    }

    private func startWatches() {
        tasks.withLock { tasks in
            tasks.watches.forEach { $0.cancel() }
            tasks.watches = [keys.wants, keys.locations].map { folder in
                Task(executorPreference: EtcdEventLoop.executor) { await self.runWatch(of: folder) }
            }
        }
    }

    private func stopWatches() {
        tasks.withLock { tasks in
            tasks.watches.forEach { $0.cancel() }
            tasks.watches = []
        }
    }
}
#endif
