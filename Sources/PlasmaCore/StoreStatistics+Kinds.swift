extension StoreStatistics {
    /// What a field's number means over time, so that tables and monitoring can tell them apart.
    public enum FieldKind: String, Sendable, CaseIterable {
        /// Fixed when the store starts (a flag or what follows from one): `capacity`.
        case setting
        /// How things are now; goes up and down: `bytes_in_use`, `clients`.
        case gauge
        /// A running total since the store started; only grows: `evicted_objects`. Rates come from two
        /// readings' difference.
        case counter
    }

    /// The kind of each field, parallel to ``fieldNames`` and ``fieldValues``.
    public static let fieldKinds: [FieldKind] = fieldNames.map { kind(of: $0) }

    /// The kind of the field named `name`; `.gauge` for a name not in ``fieldNames``.
    public static func kind(of name: String) -> FieldKind {
        if settings.contains(name) { return .setting }
        return counters.contains(name) ? .counter : .gauge
    }

    private static let settings: Set<String> = ["capacity", "arena_size", "client_state_budget", "empty_objects_limit"]

    private static let counters: Set<String> = [
        "evicted_objects", "evicted_bytes", "deleted_objects", "events_queued", "events_dropped",
        "restored_objects", "restored_bytes", "spill_failures", "restore_failures",
        "connections_refused", "arrow_subscriptions_dropped", "client_state_refusals",
        "loop_passes_over_1ms", "loop_passes_over_5ms", "loop_passes_over_20ms", "loop_pass_longest_us",
        "loop_pass_most_work_units",
        "cluster_pulls_started", "cluster_pulls_succeeded", "cluster_pulls_failed", "cluster_pulled_bytes",
        "cluster_wants_published", "cluster_locations_published", "cluster_publishes_refused", "cluster_peers_refused",
        "cluster_inline_copies", "cluster_inline_copies_refused", "cluster_transfer_connections_refused",
    ]
}
