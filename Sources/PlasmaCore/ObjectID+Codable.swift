/// Encoded as its 40-character lowercase hex string (what `plasma list`, the logs and `ObjectID(hex:)`
/// use), so that ids in JSON read the same everywhere.
extension ObjectID: Codable {
    /// Decodes the hex form (either case); anything other than 40 hex digits is a
    /// `DecodingError.dataCorrupted` that quotes the text.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = ObjectID(hex: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "an ObjectID is 40 hex digits, got \"\(text)\"")
        }
        self = id
    }

    /// Encodes ``hex``, the 40-character lowercase hex form, as a single string value.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
