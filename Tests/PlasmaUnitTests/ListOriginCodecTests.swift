import PlasmaCore
import PlasmaWire
import Testing

/// The list request's optional row format and the rows' extension (docs/PROTOCOL.md, section 7.1): a
/// client that asks gets each row's origin; one that doesn't gets the 62-byte rows it always got.
@Suite struct ListOriginCodecTests {
    private let row = ObjectInfo(
        id: ObjectID(bytes: [UInt8](repeating: 3, count: ObjectID.byteCount))!, dataSize: 10, metadataSize: 2,
        referenceCount: 1, state: .sealed, createdAtNanoseconds: 5, sealDurationNanoseconds: 6, deletePending: false)

    private func payload(of reply: Reply, type: MessageType = .list) -> [UInt8] {
        var writer = ByteWriter()
        reply.encode(type: type, requestID: 1, into: &writer)
        return Array(writer.buffer[FrameHeader.size...])
    }

    private func decode(_ payload: [UInt8]) throws -> Reply {
        try payload.withUnsafeBytes { try Reply.decode(type: MessageType.list.replyType, payload: $0) }
    }

    @Test func theRequestCarriesItsRowFormatOnlyWhenItAsksForOrigins() throws {
        for request in [Request.list, .listWithOrigins] {
            var writer = ByteWriter()
            request.encode(requestID: 9, into: &writer)
            let body = Array(writer.buffer[FrameHeader.size...])
            #expect(body == (request == .list ? [] : [1]))
            let decoded = try body.withUnsafeBytes { try Request.decode(type: MessageType.list.rawValue, payload: $0, limits: WireLimits()) }
            #expect(decoded == request)
        }
        #expect(throws: WireError.self) {
            try [UInt8]([2]).withUnsafeBytes { try Request.decode(type: MessageType.list.rawValue, payload: $0, limits: WireLimits()) }
        }
    }

    @Test func rowsWithTheirExtensionDecodeWithOriginsAndPlainRowsAsBefore() throws {
        var pulled = row
        pulled.origin = "node-a"
        let plain = payload(of: .list([row, row]))
        #expect(plain.count == 6 + 2 * Reply.encodedObjectInfoSize, "unchanged for clients that don't ask")
        #expect(try decode(plain) == .list([row, row]))
        let extended = payload(of: .listWithOrigins([pulled, row]))
        #expect(extended.count == 6 + 2 * Reply.encodedObjectInfoSize + (2 + 2 + 6) + (2 + 2))
        #expect(try decode(extended) == .listWithOrigins([pulled, row]))
    }

    @Test func unknownExtensionBytesAreSkipped() throws {
        var writer = ByteWriter()
        writer.append(PlasmaStatus.ok.rawValue)
        writer.append(UInt32(1) | Reply.listRowsCarryExtension)
        Reply.encode(row, into: &writer)
        writer.append(UInt16(2 + 1 + 3))  // origin "x", then 3 bytes of a later field
        writer.append(UInt16(1))
        writer.append(UInt8(UInt8(ascii: "x")))
        for byte: UInt8 in [7, 7, 7] { writer.append(byte) }
        var expected = row
        expected.origin = "x"
        #expect(try decode(writer.buffer) == .listWithOrigins([expected]))
    }

    /// Found by the NativeDecoder fuzzer (Fuzz/corpus/NativeDecoder/list-origins-round-trip): a list with
    /// extensions was decoded as `.list`, which encodes without them, so its origins were lost on the
    /// way back. An origin that isn't UTF-8 decodes with replacement characters and then round-trips.
    @Test func aDecodedListWithOriginsEncodesBackToTheSameReply() throws {
        var writer = ByteWriter()
        writer.append(PlasmaStatus.ok.rawValue)
        writer.append(UInt32(1) | Reply.listRowsCarryExtension)
        Reply.encode(row, into: &writer)
        writer.append(UInt16(2 + 3))
        writer.append(UInt16(3))
        for byte: UInt8 in [0, 0x36, 0xFE] { writer.append(byte) }  // not UTF-8
        let decoded = try decode(writer.buffer)
        guard case .listWithOrigins(let infos) = decoded else { Issue.record("decoded as \(decoded)"); return }
        #expect(infos.first?.origin == "\u{0}6\u{FFFD}")
        #expect(try decode(payload(of: decoded)) == decoded)
    }
}
