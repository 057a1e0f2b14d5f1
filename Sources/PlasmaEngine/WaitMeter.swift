import PlasmaCore

/// What a waiting request holds in the store, in the engine's own units; the server prices it in bytes
/// against the client-state budget (ClientStateBudget.swift). The engine only counts: it knows nothing of
/// the budget, so that it stays testable alone.
public enum WaitCost: Sendable, Equatable {
    /// A get waiting for seals, with all the ids it asked for (they are all kept, found or not).
    case getIDs(Int)
    /// A create waiting for space, with the inline bytes a create-and-seal carries (0 for a plain create).
    case create(inlineBytes: Int)
}

/// Admits or refuses waits per client, and is told when each one ends.
public protocol WaitMeter: AnyObject {
    /// nil admits the wait (and charges it); otherwise the reason for the client's `limitReached` reply.
    func admit(_ cost: WaitCost, for client: ClientID) -> String?
    func release(_ cost: WaitCost, for client: ClientID)
}
