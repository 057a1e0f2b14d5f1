import Glibc

/// Whose store a client agrees to talk to.
///
/// Anyone may be listening on a socket path: another user who got to `/tmp/plasma.sock` first would
/// receive every object put and answer every get. So right after connecting, before sending anything,
/// the client asks the kernel who created the listening socket (`SO_PEERCRED`) and by default talks
/// only to a store run by its own user or by root. `users` and `anyUser` widen that.
public struct StoreTrust: Sendable, Hashable {
    /// Users trusted besides the client's own and root.
    public var users: Set<UInt32>
    /// No check at all.
    public var anyUser: Bool

    /// Trust in these users (uids) besides this process's own and root, or in any user at all.
    public init(users: Set<UInt32> = [], anyUser: Bool = false) {
        self.users = users
        self.anyUser = anyUser
    }

    /// The client's own user and root.
    public static let ownUserOrRoot = StoreTrust()
    /// Any user's store: no check. For a socket whose directory already keeps others out.
    public static let anyone = StoreTrust(anyUser: true)

    /// Comma-separated uids, or `any`. Read at each connect that is given no explicit trust.
    public static let environmentVariable = "PLASMA_TRUSTED_STORE_UID"

    /// `PLASMA_TRUSTED_STORE_UID`, or `ownUserOrRoot` when unset or empty. A value that doesn't parse
    /// is an error rather than ignored: a typo must not silently mean "trust fewer" or "trust more".
    public static func fromEnvironment() throws(PlasmaClientError) -> StoreTrust {
        guard let raw = getenv(environmentVariable), raw.pointee != 0 else { return .ownUserOrRoot }
        let value = String(cString: raw)
        guard let trust = parse(value) else {
            throw .invalidTrust("\(environmentVariable)='\(value)' is neither a comma-separated list of uids nor 'any'")
        }
        return trust
    }

    /// `any`, or uids separated by commas (`1001,1002`); nil when neither.
    public static func parse(_ text: String) -> StoreTrust? {
        if text == "any" { return .anyone }
        var users: Set<UInt32> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let uid = UInt32(part.filter { $0 != " " }) else { return nil }
            users.insert(uid)
        }
        return StoreTrust(users: users)
    }

    /// Whether a store running as `storeUID` may serve a client running as `clientUID`.
    public func admits(storeUID: UInt32, clientUID: UInt32) -> Bool {
        anyUser || storeUID == clientUID || storeUID == 0 || users.contains(storeUID)
    }
}
