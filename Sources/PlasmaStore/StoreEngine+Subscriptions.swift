import PlasmaCore
import PlasmaWire

extension StoreEngine {
    /// Why an object left the store, as subscribers are told.
    enum Removal {
        case deleted
        case evicted
        case aborted
    }

    func subscribe(_ key: SubscriptionKey, filter: SubscriptionFilter) -> Reply {
        guard key.subscriptionID != 0 else { return fail(.invalidRequest, "subscription id 0 is reserved") }
        let owned = clients[key.client]!.subscriptions
        guard owned.contains(key.subscriptionID) || owned.count < configuration.maxSubscriptionsPerClient else {
            return fail(.limitReached, "\(configuration.maxSubscriptionsPerClient) subscriptions per client")
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
        return .done
    }

    func unsubscribe(_ key: SubscriptionKey) -> Reply {
        guard clients[key.client]!.subscriptions.remove(key.subscriptionID) != nil else {
            return fail(.objectNotFound, "no subscription \(key.subscriptionID)")
        }
        subscriptions.remove(key)
        return .done
    }

    /// Tells every interested subscription; costs nothing when nobody is interested.
    func publish(_ event: ObjectEvent, about id: ObjectID) {
        guard subscriptions.count > 0 else { return }
        for key in subscriptions.subscribers(of: id) { deliver(event, to: key) }
    }

    private func deliver(_ event: ObjectEvent, to key: SubscriptionKey) {
        eventsQueued += 1
        eventSink(key, event)
    }

    func event(for removal: Removal, of id: ObjectID) -> ObjectEvent {
        switch removal {
        case .deleted: .deleted(id)
        case .evicted: .evicted(id)
        case .aborted: .aborted(id)
        }
    }
}
