/// Groups from the system's group database (/etc/group, NSS).
public enum SystemGroup {
    /// The gid of the group called `name`; nil when there is none.
    ///
    /// The corresponding C function is `getgrnam_r`.
    public static func id(named name: String) throws(SystemError) -> UInt32? {
        try system_getgrnam(name).get("getgrnam_r(\(name))")
    }
}
