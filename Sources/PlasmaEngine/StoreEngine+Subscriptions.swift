import PlasmaCore

extension StoreEngine {
    /// Why an object left the store, as subscribers are told.
    enum Removal {
        case deleted
        case evicted
        case aborted
    }

    /// Events about the objects `filter` matches go to the observer under `key` from now on; those
    /// already sealed among exact ids are announced at once (so check-then-subscribe has no race).
    /// Subscribing again under the same key replaces the filter.
    public func subscribe(_ key: SubscriptionKey, filter: SubscriptionFilter) -> Result<Void, EngineError> {
        guard clients[key.client] != nil else { return .failure(EngineError(.invalidRequest, "unknown client")) }
        guard key.subscriptionID != 0 else { return .failure(EngineError(.invalidRequest, "subscription id 0 is reserved")) }
        let owned = clients[key.client]!.subscriptions
        guard owned.contains(key.subscriptionID) || owned.count < configuration.maxSubscriptionsPerClient else {
            return .failure(EngineError(.limitReached, "\(configuration.maxSubscriptionsPerClient) subscriptions per client"))
        }
        clients[key.client]!.subscriptions.insert(key.subscriptionID)
        subscriptions.add(key, filter)
        // Check-then-subscribe has no race: what is already sealed is announced now.
        if case .ids(let ids) = filter {
            for id in Set(ids) {
                guard let slot = objects.slot(of: id), objects[slot].state == .sealed else { continue }
                let record = objects[slot]
                deliver(.sealed(id, dataSize: record.dataSize, metadataSize: record.metadataSize), to: key)
            }
        }
        return .success(())
    }

    /// Ends a subscription.
    public func unsubscribe(_ key: SubscriptionKey) -> Result<Void, EngineError> {
        guard clients[key.client]?.subscriptions.remove(key.subscriptionID) != nil else {
            return .failure(EngineError(.objectNotFound, "no subscription \(key.subscriptionID)"))
        }
        subscriptions.remove(key)
        return .success(())
    }

    /// Tells every interested subscription, and the observer once when it hears every event; costs
    /// nothing when nobody is interested.
    func publish(_ event: ObjectEvent, about id: ObjectID) {
        if publishesEveryEvent {
            eventsQueued += 1
            observer?.published(event)
        }
        guard subscriptions.count > 0 else { return }
        for key in subscriptions.subscribers(of: id) { deliver(event, to: key) }
    }

    private func deliver(_ event: ObjectEvent, to key: SubscriptionKey) {
        eventsQueued += 1
        observer?.deliver(event, to: key)
    }

    func event(for removal: Removal, of id: ObjectID) -> ObjectEvent {
        switch removal {
        case .deleted: .deleted(id)
        case .evicted: .evicted(id)
        case .aborted: .aborted(id)
        }
    }
}
