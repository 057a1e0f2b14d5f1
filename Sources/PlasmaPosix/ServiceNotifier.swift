/// Tells the service manager how the daemon is doing, as `sd_notify(3)` does, without libsystemd.
///
/// The protocol is one datagram per message, of newline-separated `KEY=VALUE` fields, sent to the
/// Unix socket named by `$NOTIFY_SOCKET`: a path, or an abstract name when it starts with `@`. systemd
/// sets it for `Type=notify` units; with it unset there is nobody to tell and ``fromEnvironment()``
/// gives nil. Messages the manager doesn't read are lost, never waited for: a notification is a hint,
/// and a daemon must not stall because its manager is busy.
public struct ServiceNotifier: Sendable, Equatable {
    /// Where the datagrams go: a path or `@abstract-name`.
    public let socketPath: String

    /// A notifier for the socket at `socketPath` (a path, or `@name` for an abstract socket).
    public init(socketPath: String) {
        self.socketPath = socketPath
    }

    /// The notifier `$NOTIFY_SOCKET` names, or nil when it is unset or empty.
    ///
    /// The variable is left in place (unlike `sd_notify`'s `unset_environment`): the store starts no
    /// children, and STOPPING=1 at shutdown needs it too.
    public static func fromEnvironment() -> ServiceNotifier? {
        guard let path = system_getenv("NOTIFY_SOCKET"), !path.isEmpty else { return nil }
        return ServiceNotifier(socketPath: path)
    }

    /// Sends `fields` as one message, in order, e.g. `[("READY", "1"), ("STATUS", "serving")]`.
    /// A newline in a value would start another field, so it is replaced by a space.
    ///
    /// The corresponding C functions are `socket(AF_UNIX, SOCK_DGRAM)` and `sendto`, through `plasma_notify`.
    public func send(_ fields: [(key: String, value: String)]) throws(SystemError) {
        let message = fields.map { "\($0.key)=\($0.value.replacing("\n", with: " "))" }.joined(separator: "\n") + "\n"
        _ = try system_notify(socketPath, message).get("sendto(NOTIFY_SOCKET \(socketPath))")
    }

    /// `READY=1`: the daemon answers requests now. `status` goes along as `STATUS=`.
    public func ready(status: String) throws(SystemError) {
        try send([("READY", "1"), ("STATUS", status)])
    }

    /// `STOPPING=1`: the daemon is shutting down (not a crash, when it exits next).
    public func stopping(status: String) throws(SystemError) {
        try send([("STOPPING", "1"), ("STATUS", status)])
    }

    /// `STATUS=`: one line `systemctl status` shows.
    public func status(_ text: String) throws(SystemError) {
        try send([("STATUS", text)])
    }
}
