/// An object given inline, for create-and-seal.
public struct InlineObject: Sendable, Equatable {
    public var id: ObjectID
    public var data: [UInt8]
    public var metadata: [UInt8]

    public init(id: ObjectID, data: [UInt8], metadata: [UInt8] = []) {
        self.id = id
        self.data = data
        self.metadata = metadata
    }
}
