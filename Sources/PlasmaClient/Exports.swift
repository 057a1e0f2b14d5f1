// The vocabulary a client's user needs (ObjectID, ObjectInfo, ObjectEvent, StoreStatistics, PlasmaStatus,
// ByteCount) lives in PlasmaCore, shared with the store; re-exported so that `import PlasmaClient` alone
// is enough to use the client.
@_exported import PlasmaCore
