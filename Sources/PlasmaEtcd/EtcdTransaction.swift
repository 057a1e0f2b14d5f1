#if Cluster
/// A condition of a transaction.
public enum EtcdCompare: Sendable, Equatable {
    /// The key's create revision equals this (0: the key doesn't exist).
    case createRevision(key: String, equals: Int64)
    /// The key's value equals these bytes.
    case value(key: String, equals: [UInt8])
}

/// One operation of a transaction.
public enum EtcdOperation: Sendable, Equatable {
    /// Sets a key, under a lease when one is given (0: none).
    case put(key: String, value: [UInt8], lease: Int64)
    /// Reads a key, or every key that starts with it when `prefix`.
    case range(key: String, prefix: Bool)
    /// Deletes a key, or every key that starts with it when `prefix`.
    case delete(key: String, prefix: Bool)
}

/// What one operation of a transaction answered.
public enum EtcdOperationResult: Sendable, Equatable {
    /// A put was done.
    case put
    /// A range's keys.
    case range([EtcdKeyValue])
    /// How many keys a delete removed.
    case deleted(Int64)
}

/// A transaction's answer.
public struct EtcdTransactionResult: Sendable, Equatable {
    /// Whether every compare held (the success operations ran) or not (the failure operations ran).
    public var succeeded: Bool
    /// The answers of the operations that ran, in order.
    public var results: [EtcdOperationResult]
    /// The store's revision after the transaction.
    public var revision: Int64
}

/// The most operations one transaction may carry: etcd's default `--max-txn-ops`.
public let etcdMaximumOperationsPerTransaction = 128
#endif
