/// An object given inline, for create-and-seal: its bytes travel in the request itself, so the store
/// creates, fills and seals it in one round trip. Meant for small objects; large ones are cheaper
/// written in place in the arena.
public struct InlineObject: Sendable, Equatable {
    /// The id the object is stored under; the store refuses it if the id is already taken.
    public var id: ObjectID
    /// The object's data bytes.
    public var data: [UInt8]
    /// The object's metadata bytes (may be empty); stored after the data, reported separately.
    public var metadata: [UInt8]

    /// An object with these bytes, to be stored under `id`.
    public init(id: ObjectID, data: [UInt8], metadata: [UInt8] = []) {
        self.id = id
        self.data = data
        self.metadata = metadata
    }
}
