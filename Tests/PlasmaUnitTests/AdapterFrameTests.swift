@testable import PlasmaEngine
@testable import PlasmaStore
import PlasmaCore
import PlasmaWire
import Testing

/// Each adapter fed whole wire frames, its replies read back as frames: create → seal → get through
/// the codec, the adapter and the engine, as the server runs them (without its sockets).
@Suite struct AdapterFrameTests {
    /// Decodes a native request frame as the server does, runs it, returns the reply frames decoded.
    func native(_ request: Request, requestID: UInt64, from client: ClientID, on harness: EngineHarness) throws -> [Reply] {
        var writer = ByteWriter()
        request.encode(requestID: requestID, into: &writer)
        let before = harness.replies.count
        try writer.buffer.withUnsafeBytes { raw in
            let header = try #require(try FrameHeader.decode(raw, maxPayload: 1 << 20))
            #expect(header.requestID == requestID && FrameHeader.size + header.payloadLength == raw.count)
            let decoded = try Request.decode(
                type: header.type, payload: UnsafeRawBufferPointer(rebasing: raw[FrameHeader.size...]), limits: WireLimits())
            harness.native.handle(decoded, requestID: header.requestID, from: client)
        }
        return try harness.replies[before...].map { recorded in
            var out = ByteWriter()
            recorded.reply.encode(type: recorded.type, requestID: recorded.requestID, into: &out)
            return try out.buffer.withUnsafeBytes { raw in
                let header = try #require(try FrameHeader.decode(raw, maxPayload: 1 << 20))
                #expect(header.requestID == recorded.requestID)
                return try Reply.decode(type: header.type, payload: UnsafeRawBufferPointer(rebasing: raw[FrameHeader.size...]))
            }
        }
    }

    /// An Arrow request frame through the adapter; its reply frame decoded (nil: no reply).
    func arrow(_ request: ArrowRequest, from client: ClientID, on harness: EngineHarness) throws -> ArrowReply? {
        let decoded = try ArrowRequest.decode(frame: request.encode())
        guard let reply = harness.arrowSend(decoded, from: client) else { return nil }
        return try ArrowReply.decode(frame: reply.encode())
    }

    @Test func nativeCreateSealGetInFrames() throws {
        let harness = EngineHarness(capacity: 1 << 16)
        let writer = harness.connect()
        let reader = harness.connect()
        #expect(try native(.get(ids: [testID(1)], timeoutMilliseconds: -1), requestID: 9, from: reader, on: harness).isEmpty, "waits")
        #expect(try native(.create(id: testID(1), dataSize: 5, metadataSize: 1, timeoutMilliseconds: 0), requestID: 1,
                           from: writer, on: harness) == [.created(offset: 0)])
        let replies = try native(.seal(id: testID(1)), requestID: 2, from: writer, on: harness)
        #expect(replies == [.objects([ObjectLocation(offset: 0, dataSize: 5, metadataSize: 1)]), .done],
                "the waiting get, answered inside the seal, then the seal's own reply")
        #expect(harness.replies.suffix(2).map(\.requestID) == [9, 2])
        #expect(try native(.get(ids: [testID(1), testID(2)], timeoutMilliseconds: 0), requestID: 3, from: writer, on: harness)
                == [.objects([ObjectLocation(offset: 0, dataSize: 5, metadataSize: 1), nil])])
    }

    @Test func arrowCreateSealGetInFrames() throws {
        let harness = EngineHarness(capacity: 1 << 16)
        let client = harness.arrowClient()
        let digest: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        guard case .create(let id, let spec, .ok, 3, let mmapSize) = try arrow(
            .create(id: testID(1), evictIfFull: true, dataSize: 5, metadataSize: 1, deviceNum: 0), from: client, on: harness)
        else { Issue.record("no create reply"); return }
        #expect(id == testID(1) && spec.dataSize == 5 && spec.metadataOffset == 5 && mmapSize == Int64(harness.memory.count) + 8)
        #expect(try arrow(.seal(id: testID(1), digest: digest), from: client, on: harness) == .seal(id: testID(1), error: .ok))
        guard case .get(let ids, let specs, let fds, _) = try arrow(.get(ids: [testID(1)], timeoutMs: 0), from: client, on: harness)
        else { Issue.record("no get reply"); return }
        #expect(ids == [testID(1)] && specs == [spec] && fds == [3])
        #expect(try arrow(.release(id: testID(1)), from: client, on: harness) == nil, "Arrow's release has no reply")
        guard case .list(let infos) = try arrow(.list, from: client, on: harness) else { Issue.record("no list"); return }
        #expect(infos.map(\.digest) == [digest])
    }
}
