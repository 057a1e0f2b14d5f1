import PlasmaCore
import PlasmaTestSupport
import PlasmaWire
import Testing

private let sampleRequests: [Request] = [
    .connect(clientName: "unit-test ✓"),
    .connect(clientName: ""),
    .create(id: testID(1), dataSize: 1 << 40, metadataSize: 7, timeoutMilliseconds: -1),
    .create(id: testID(2), dataSize: 0, metadataSize: 0, timeoutMilliseconds: 0),
    .seal(id: testID(3)),
    .abort(id: testID(4)),
    .contains(id: testID(5)),
    .createAndSeal(InlineObject(id: testID(5), data: [1, 2, 3], metadata: [4]), timeoutMilliseconds: 250),
    .createAndSeal(InlineObject(id: testID(6), data: []), timeoutMilliseconds: Int64.max),
    .createAndSealBatch([
        InlineObject(id: testID(7), data: [9, 9], metadata: []),
        InlineObject(id: testID(8), data: [], metadata: [1, 2]),
    ]),
    .createAndSealBatch([]),
    .get(ids: [testID(1), testID(2), testID(1)], timeoutMilliseconds: -1),
    .get(ids: [], timeoutMilliseconds: 0),
    .release(ids: [testID(3)]),
    .release(ids: []),
    .delete(ids: [testID(4), testID(5)]),
    .evict(bytes: Int(Int64.max)),
    .evict(bytes: 0),
    .list,
    .stats,
    .cancel(requestID: 12),
    .cancel(requestID: UInt64.max),
    .subscribe(subscriptionID: 3, filter: .all),
    .subscribe(subscriptionID: 4, filter: .ids([testID(1), testID(2)])),
    .subscribe(subscriptionID: 5, filter: .prefix([0xAB])),
    .unsubscribe(subscriptionID: 4),
]

private let sampleStatistics: StoreStatistics = {
    var statistics = StoreStatistics(fieldValues: (1...StoreStatistics.fieldNames.count).map { Int64($0) * 1_000_003 })
    statistics.fragmentationPermille = -1  // any Int64 survives
    return statistics
}()

private let sampleReplies: [(MessageType, Reply)] = [
    (.seal, .failure(.notCreator, message: "only the client that created the object may do this")),
    (.get, .failure(.invalidRequest, message: "")),
    (.connect, .connected(capacity: 2 << 30, arenaSize: 2 << 30, clientID: UInt64.max)),
    (.create, .created(offset: 4096)),
    (.seal, .done),
    (.abort, .done),
    (.createAndSeal, .done),
    (.createAndSealBatch, .statuses([.ok, .objectExists, .outOfMemory])),
    (.release, .statuses([])),
    (.delete, .statuses(PlasmaStatus.allCases)),
    (.get, .objects([ObjectLocation(offset: 64, dataSize: 10, metadataSize: 2), nil,
                     ObjectLocation(offset: 0, dataSize: 0, metadataSize: 0)])),
    (.get, .objects([])),
    (.contains, .contains(true)),
    (.contains, .contains(false)),
    (.evict, .evicted(bytes: 12345, objects: 3)),
    (.list, .list([
        ObjectInfo(id: testID(1), dataSize: 100, metadataSize: 4, referenceCount: 2, state: .sealed,
                   createdAtNanoseconds: 1_700_000_000_123_456_789, sealDurationNanoseconds: 42, deletePending: true),
        ObjectInfo(id: testID(2), dataSize: 0, metadataSize: 0, referenceCount: 1, state: .created,
                   createdAtNanoseconds: -5, sealDurationNanoseconds: -1, deletePending: false),
    ])),
    (.list, .list([])),
    (.stats, .stats(sampleStatistics)),
    (.cancel, .done),
    (.subscribe, .done),
    (.unsubscribe, .failure(.objectNotFound, message: "no subscription 4")),
    (.get, .failure(.cancelled, message: "cancelled by the client")),
]

/// Encodes `request` as one whole frame: header and payload.
private func frame(_ request: Request, requestID: UInt64 = 77) -> [UInt8] {
    var writer = ByteWriter()
    request.encode(requestID: requestID, into: &writer)
    return writer.buffer
}

private func payload(of request: Request) -> [UInt8] { Array(frame(request).dropFirst(FrameHeader.size)) }

private func decodeRequest(
    type: MessageType, _ payload: [UInt8], limits: WireLimits = WireLimits()
) throws -> Request {
    try decodeRequest(rawType: type.rawValue, payload, limits: limits)
}

private func decodeRequest(rawType: UInt16, _ payload: [UInt8], limits: WireLimits = WireLimits()) throws -> Request {
    try payload.withUnsafeBytes { raw throws(WireError) in
        try Request.decode(type: rawType, payload: raw, limits: limits)
    }
}

private func decodeReply(type: MessageType, _ payload: [UInt8]) throws -> Reply {
    try payload.withUnsafeBytes { raw throws(WireError) in try Reply.decode(type: type.replyType, payload: raw) }
}

private func decodeHeader(_ bytes: [UInt8], maxPayload: Int = 1 << 20) throws -> FrameHeader? {
    try bytes.withUnsafeBytes { raw throws(WireError) in try FrameHeader.decode(raw, maxPayload: maxPayload) }
}

/// Little-endian payload builder for hand-made (often malformed) payloads.
private func bytes(_ build: (inout ByteWriter) -> Void) -> [UInt8] {
    var writer = ByteWriter()
    build(&writer)
    return writer.buffer
}

@Suite struct CodecTests {
    // MARK: Round trips

    @Test(arguments: sampleRequests)
    func everyRequestRoundTripsThroughHeaderAndPayload(request: Request) throws {
        let encoded = frame(request, requestID: 0xDEAD_BEEF_0000_0001)
        let header = try #require(try decodeHeader(encoded, maxPayload: WireLimits().maxPayload))
        #expect(header.type == request.messageType.rawValue)
        #expect(header.requestID == 0xDEAD_BEEF_0000_0001)
        #expect(header.payloadLength == encoded.count - FrameHeader.size)
        let decoded = try decodeRequest(rawType: header.type, Array(encoded.dropFirst(FrameHeader.size)))
        #expect(decoded == request)
    }

    @Test func sampleRequestsCoverEveryMessageType() {
        #expect(Set(sampleRequests.map(\.messageType)) == Set(MessageType.allCases))
        #expect(Set(sampleReplies.map(\.0)) == Set(MessageType.allCases))
    }

    @Test func everyReplyRoundTripsThroughHeaderAndPayload() throws {
        for (type, reply) in sampleReplies {
            var writer = ByteWriter()
            reply.encode(type: type, requestID: 9, into: &writer)
            let header = try #require(try decodeHeader(writer.buffer))
            #expect(header.type == type.rawValue | MessageType.replyBit)
            #expect(header.requestID == 9)
            #expect(header.payloadLength == writer.buffer.count - FrameHeader.size)
            let decoded = try decodeReply(type: type, Array(writer.buffer.dropFirst(FrameHeader.size)))
            #expect(decoded == reply, "\(type)")
        }
    }

    @Test func framesConcatenateAndEachPatchesItsOwnLength() throws {
        var writer = ByteWriter()
        Request.seal(id: testID(1)).encode(requestID: 1, into: &writer)
        Request.get(ids: [testID(2), testID(3)], timeoutMilliseconds: 5).encode(requestID: 2, into: &writer)
        let first = try #require(try decodeHeader(writer.buffer))
        #expect(first.payloadLength == ObjectID.byteCount)
        let secondStart = FrameHeader.size + first.payloadLength
        let second = try #require(try decodeHeader(Array(writer.buffer[secondStart...])))
        #expect(second.requestID == 2)
        #expect(second.payloadLength == 8 + 4 + 2 * ObjectID.byteCount)
        #expect(secondStart + FrameHeader.size + second.payloadLength == writer.buffer.count)
    }

    @Test func statisticsFieldsTravelInOrderAndMissingTrailingFieldsReadAsZero() {
        #expect(StoreStatistics.fieldNames.count == sampleStatistics.fieldValues.count)
        #expect(StoreStatistics(fieldValues: sampleStatistics.fieldValues) == sampleStatistics)
        let older = StoreStatistics(fieldValues: [1, 2, 3])
        #expect(older.capacity == 1 && older.arenaSize == 2 && older.bytesInUse == 3)
        #expect(older.largestFreeBlock == 0 && older.pendingGets == 0)
        let newer = StoreStatistics(fieldValues: sampleStatistics.fieldValues + [99, 100])
        #expect(newer == sampleStatistics, "fields from a newer store are ignored")

        // A stats reply with two extra trailing fields still decodes.
        let payload = bytes {
            $0.append(PlasmaStatus.ok.rawValue)
            $0.append(UInt32(sampleStatistics.fieldValues.count + 2))
            for value in sampleStatistics.fieldValues + [7, 8] { $0.append(value) }
        }
        #expect((try? decodeReply(type: .stats, payload)) == .stats(sampleStatistics))
    }

    // MARK: Header rejections

    @Test func headerWithBadMagicIsRejected() throws {
        var encoded = frame(.list)
        encoded[0] = 0x41
        #expect(throws: WireError.badMagic(0x4E53_4C41)) { try decodeHeader(encoded) }
        // Arrow's first frame starts with an int64 version 0: never mistaken for a native frame.
        let arrow = [UInt8](repeating: 0, count: 24)
        #expect(arrow.withUnsafeBytes { FrameHeader.looksNative($0) } == false)
        #expect(encoded.withUnsafeBytes { FrameHeader.looksNative($0) } == false)
        #expect(frame(.list).withUnsafeBytes { FrameHeader.looksNative($0) })
        #expect(throws: WireError.badMagic(0)) { try decodeHeader(arrow) }
    }

    @Test func headerWithWrongVersionIsRejected() {
        var encoded = frame(.list)
        encoded[4] = 2
        #expect(throws: WireError.unsupportedVersion(2)) { try decodeHeader(encoded) }
        encoded[4] = 0
        #expect(throws: WireError.unsupportedVersion(0)) { try decodeHeader(encoded) }
    }

    @Test func headerWithNonzeroReservedFieldIsRejected() {
        var encoded = frame(.list)
        encoded[23] = 1
        #expect(throws: WireError.nonzeroReserved(1 << 24)) { try decodeHeader(encoded) }
    }

    @Test func headerWithPayloadLongerThanMaxPayloadIsRejected() throws {
        let encoded = frame(.seal(id: testID(1)))  // payload of 20 bytes
        #expect(throws: WireError.frameTooLarge(length: 20, limit: 19)) { try decodeHeader(encoded, maxPayload: 19) }
        #expect(try decodeHeader(encoded, maxPayload: 20)?.payloadLength == 20)
        var huge = frame(.list)
        huge[16...19] = [0xFF, 0xFF, 0xFF, 0xFF]
        #expect(throws: WireError.frameTooLarge(length: Int(UInt32.max), limit: 64 << 20)) {
            try decodeHeader(huge, maxPayload: 64 << 20)
        }
    }

    @Test func headerNeedsAllTwentyFourBytes() throws {
        let encoded = frame(.list)
        #expect(encoded.count == FrameHeader.size)
        for length in 0..<FrameHeader.size {
            #expect(try decodeHeader(Array(encoded.prefix(length))) == nil)
        }
        #expect(try decodeHeader(encoded) == FrameHeader(type: MessageType.list.rawValue, requestID: 77, payloadLength: 0))
    }

    // MARK: Payload rejections

    @Test func unknownMessageTypeIsRejected() {
        for rawType: UInt16 in [0, 99, 0x7FFF, 0xFFFF, MessageType.seal.replyType] {
            #expect(throws: WireError.unknownMessageType(rawType)) { try decodeRequest(rawType: rawType, []) }
        }
        // A reply must carry the reply bit and a known type.
        let okPayload = bytes { $0.append(PlasmaStatus.ok.rawValue) }
        #expect(throws: WireError.unknownMessageType(MessageType.seal.rawValue)) {
            try okPayload.withUnsafeBytes { raw throws(WireError) in
                try Reply.decode(type: MessageType.seal.rawValue, payload: raw)
            }
        }
        #expect(throws: WireError.unknownMessageType(MessageType.replyBit | 99)) {
            try okPayload.withUnsafeBytes { raw throws(WireError) in
                try Reply.decode(type: MessageType.replyBit | 99, payload: raw)
            }
        }
    }

    @Test func truncatedPayloadIsRejectedForEveryRequestWithABody() throws {
        for request in sampleRequests {
            let full = payload(of: request)
            for length in 0..<full.count {
                #expect(throws: WireError.self, "\(request) cut to \(length) bytes") {
                    try decodeRequest(type: request.messageType, Array(full.prefix(length)))
                }
            }
        }
        let create = payload(of: .create(id: testID(1), dataSize: 1, metadataSize: 2, timeoutMilliseconds: 3))
        #expect(throws: WireError.truncated(needed: 8, available: 7)) {
            try decodeRequest(type: .create, Array(create.dropLast()))
        }
    }

    @Test func trailingBytesAreRejected() {
        for request in sampleRequests {
            #expect(throws: WireError.trailingBytes(1), "\(request)") {
                try decodeRequest(type: request.messageType, payload(of: request) + [0])
            }
        }
        #expect(throws: WireError.trailingBytes(1)) { try decodeReply(type: .seal, [0, 0, 0]) }
    }

    @Test func idListCountLargerThanThePayloadIsRejectedBeforeAllocating() {
        // Four billion ids claimed, none present: must throw, not reserve 80 GB.
        let unlimited = WireLimits(maxItems: Int(UInt32.max))
        let get = bytes {
            $0.append(Int64(0))
            $0.append(UInt32.max)
        }
        #expect(throws: WireError.truncated(needed: Int(UInt32.max) * 20, available: 0)) {
            try decodeRequest(type: .get, get, limits: unlimited)
        }
        let release = bytes {
            $0.append(UInt32(3))
            $0.append(testID(1))
            $0.append(testID(2))
        }
        #expect(throws: WireError.truncated(needed: 60, available: 40)) {
            try decodeRequest(type: .release, release, limits: unlimited)
        }
        let batch = bytes { $0.append(UInt32.max) }
        #expect(throws: WireError.self) { try decodeRequest(type: .createAndSealBatch, batch, limits: unlimited) }
        let byteString = bytes {
            $0.append(testID(1))
            $0.append(UInt32.max)  // data length
        }
        #expect(throws: WireError.truncated(needed: Int(UInt32.max), available: 4)) {
            try decodeRequest(type: .createAndSealBatch, bytes { $0.append(UInt32(1)) } + byteString + [0, 0, 0, 0])
        }
        // Replies too: a huge list count is refused before anything is reserved.
        let list = bytes {
            $0.append(PlasmaStatus.ok.rawValue)
            $0.append(UInt32.max)
        }
        #expect(throws: WireError.self) { try decodeReply(type: .list, list) }
        #expect(throws: WireError.self) { try decodeReply(type: .get, list) }
    }

    @Test func tooManyItemsIsRejected() throws {
        let limits = WireLimits(maxItems: 3)
        let three = [testID(1), testID(2), testID(3)]
        let four = three + [testID(4)]
        #expect(try decodeRequest(type: .get, payload(of: .get(ids: three, timeoutMilliseconds: 0)), limits: limits)
                == .get(ids: three, timeoutMilliseconds: 0))
        #expect(throws: WireError.tooManyItems(count: 4, limit: 3)) {
            try decodeRequest(type: .get, payload(of: .get(ids: four, timeoutMilliseconds: 0)), limits: limits)
        }
        #expect(throws: WireError.tooManyItems(count: 4, limit: 3)) {
            try decodeRequest(type: .release, payload(of: .release(ids: four)), limits: limits)
        }
        #expect(throws: WireError.tooManyItems(count: 4, limit: 3)) {
            try decodeRequest(type: .delete, payload(of: .delete(ids: four)), limits: limits)
        }
        let objects = four.map { InlineObject(id: $0, data: [1]) }
        #expect(throws: WireError.tooManyItems(count: 4, limit: 3)) {
            try decodeRequest(type: .createAndSealBatch, payload(of: .createAndSealBatch(objects)), limits: limits)
        }
    }

    @Test func booleanByteOtherThanZeroOrOneIsRejected() {
        #expect(throws: WireError.invalidValue("boolean 2")) {
            try decodeReply(type: .contains, bytes {
                $0.append(PlasmaStatus.ok.rawValue)
                $0.append(UInt8(2))
            })
        }
        let objects = bytes {
            $0.append(PlasmaStatus.ok.rawValue)
            $0.append(UInt32(1))
            $0.append(UInt8(2))
            for _ in 0..<3 { $0.append(UInt64(0)) }
        }
        #expect(throws: WireError.invalidValue("boolean 2")) { try decodeReply(type: .get, objects) }
    }

    @Test func timeoutBelowMinusOneIsRejected() throws {
        for timeout: Int64 in [-2, -1000, Int64.min] {
            let requests: [Request] = [
                .create(id: testID(1), dataSize: 1, metadataSize: 0, timeoutMilliseconds: timeout),
                .createAndSeal(InlineObject(id: testID(1), data: []), timeoutMilliseconds: timeout),
                .get(ids: [testID(1)], timeoutMilliseconds: timeout),
            ]
            for request in requests {
                #expect(throws: WireError.invalidValue("timeout \(timeout) ms")) {
                    try decodeRequest(type: request.messageType, payload(of: request))
                }
            }
        }
        let forever = Request.get(ids: [], timeoutMilliseconds: -1)
        #expect(try decodeRequest(type: .get, payload(of: forever)) == forever)
    }

    @Test func sizeAboveInt64MaxAndUnknownStatusOrStateAreRejected() {
        let create = bytes {
            $0.append(testID(1))
            $0.append(UInt64.max)
            $0.append(UInt64(0))
            $0.append(Int64(0))
        }
        #expect(throws: WireError.invalidValue("size \(UInt64.max)")) { try decodeRequest(type: .create, create) }
        #expect(throws: WireError.invalidValue("status 999")) { try decodeReply(type: .seal, bytes { $0.append(UInt16(999)) }) }
        var writer = ByteWriter()
        Reply.list([ObjectInfo(id: testID(1), dataSize: 1, metadataSize: 0, referenceCount: 0, state: .sealed,
                               createdAtNanoseconds: 0, sealDurationNanoseconds: 0, deletePending: false)])
            .encode(type: .list, requestID: 1, into: &writer)
        var list = Array(writer.buffer.dropFirst(FrameHeader.size))
        list[2 + 4 + 20 + 24] = 7  // the state byte
        #expect(throws: WireError.invalidValue("state 7")) { try decodeReply(type: .list, list) }
    }

    // MARK: Fuzz

    @Test func tenThousandRandomPayloadsNeverCrashTheRequestDecoder() {
        var random = SeededRandom(seed: 0x5EED)
        let limits = WireLimits(maxPayload: 1 << 16, maxItems: 64)
        var decodedCount = 0
        for _ in 0..<10_000 {
            let rawType = UInt16.random(in: 0...15, using: &random)
            let length = Int.random(in: 0...96, using: &random)
            let noise = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            if let request = try? decodeRequest(rawType: rawType, noise, limits: limits) {
                decodedCount += 1
                expectReencodesIdentically(request, noise)
            }
        }
        // Valid encodings with a byte or two flipped, or cut short, or extended.
        for index in 0..<10_000 {
            let request = sampleRequests[index % sampleRequests.count]
            var mutated = payload(of: request)
            switch Int.random(in: 0..<3, using: &random) {
            case 0 where !mutated.isEmpty:
                for _ in 0..<Int.random(in: 1...2, using: &random) {
                    mutated[Int.random(in: 0..<mutated.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
            case 1: mutated = Array(mutated.prefix(Int.random(in: 0...mutated.count, using: &random)))
            default: mutated += (0..<Int.random(in: 1...8, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            }
            if let decoded = try? decodeRequest(type: request.messageType, mutated, limits: limits) {
                decodedCount += 1
                expectReencodesIdentically(decoded, mutated)
            }
        }
        #expect(decodedCount > 0, "some mutations still decode (e.g. a changed id byte)")
    }

    @Test func tenThousandRandomPayloadsNeverCrashTheReplyDecoder() {
        var random = SeededRandom(seed: 0xFACE)
        for _ in 0..<10_000 {
            let type = MessageType.allCases.randomElement(using: &random)!
            // Mostly a valid ok status in front, so that the bodies get exercised.
            var payload: [UInt8] = Bool.random(using: &random) ? [0, 0] : []
            payload += (0..<Int.random(in: 0...80, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            _ = try? decodeReply(type: type, payload)
        }
    }
}

/// A payload that decodes re-encodes to the same bytes (strings excepted: invalid UTF-8 is repaired).
private func expectReencodesIdentically(_ request: Request, _ original: [UInt8],
                                        sourceLocation: SourceLocation = #_sourceLocation) {
    if case .connect = request { return }
    #expect(payload(of: request) == original, "\(request)", sourceLocation: sourceLocation)
}
