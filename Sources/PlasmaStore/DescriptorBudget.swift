/// How many clients the descriptor limit (`RLIMIT_NOFILE`) lets the store serve, counted as Redis does:
/// the clients' worst case plus a fixed reserve for the store itself.
///
/// The reserve (32, Redis's CONFIG_MIN_RESERVED_FDS too) covers what the store holds whatever its
/// clients do, about ten: standard input, output and error, the listening socket, epoll, the stop
/// eventfd, the signalfd, the arena's memfd, and a `file://` spill file or directory while spilling or
/// restoring; the rest is room for the short-lived ones (the socket probed for a live store at start,
/// descriptors a client passes before its dialect is known) and for the C library.
///
/// A client costs one descriptor, its connection, except an Arrow subscriber, which also hands the
/// store a notification socket: two. Any client may subscribe, so each is counted at two. That is
/// pessimistic for native clients, but it is the count under which `--max-clients` clients can never
/// run the store out of descriptors.
public enum DescriptorBudget {
    public static let reserved = 32
    public static let perClient = 2

    /// Descriptors `clients` clients and the store need at most.
    public static func needed(clients: Int) -> Int { reserved + perClient * clients }

    /// The most clients `limit` descriptors can serve: `requested`, or fewer when the limit is short
    /// (at least one, so that a tiny limit still gives a store that works, if barely).
    public static func clientLimit(requested: Int, descriptorLimit limit: Int) -> Int {
        guard limit < needed(clients: requested) else { return requested }
        return max(1, (limit - reserved) / perClient)
    }
}
