#if Cluster
/// One key of etcd as a range or a watch reports it.
public struct EtcdKeyValue: Sendable, Equatable {
    /// The key (UTF-8; this client's keys are text).
    public var key: String
    /// The value's bytes (empty for a deleted key in a watch event).
    public var value: [UInt8]
    /// The revision that created the key (0: it doesn't exist).
    public var createRevision: Int64
    /// The revision of its last change.
    public var modRevision: Int64
    /// The lease it is attached to, 0 for none.
    public var lease: Int64

    /// A key and value.
    public init(key: String, value: [UInt8], createRevision: Int64 = 0, modRevision: Int64 = 0, lease: Int64 = 0) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.lease = lease
    }
}

/// The end of the range of every key that starts with `prefix`: the prefix with its last byte plus one
/// (etcd's rule; bytes of 0xff are dropped first).
func rangeEnd(ofPrefix prefix: String) -> [UInt8] {
    var bytes = Array(prefix.utf8)
    while let last = bytes.last {
        if last < 0xff {
            bytes[bytes.count - 1] = last + 1
            return bytes
        }
        bytes.removeLast()
    }
    return [0]  // every key
}
#endif
