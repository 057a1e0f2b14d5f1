// libFuzzer harness for the native codec (Sources/PlasmaWire): FrameHeader, Request, Reply, ObjectEvent.
// Built and run by Fuzz/run.sh; see Fuzz/README.md.
//
// The input is read the way the store and the client read a socket: a stream of frames, each a 24-byte
// header and the payload it announces. Every payload goes to the decoder its header type selects
// (requests for plain types, replies for the reply bit, events for the event bit) and, to reach the
// decoders' error paths even when a type doesn't fit, to the other two as well.
// When the first header is rejected, the input is read raw instead: the first two bytes are a type, the
// rest the payload, so that the payload decoders are fuzzed without the framing in the way.
//
// Properties (a violation traps, which libFuzzer reports as a crash):
// - no decoder crashes, whatever the bytes (they must throw WireError instead);
// - a decoded request, reply or event re-encodes to a frame whose header decodes to the same type,
//   request id and payload length, and whose payload decodes to the same value;
// - a request re-encodes to exactly the payload it was decoded from (the encoding is canonical), except
//   `connect`, whose client name may have had invalid UTF-8 repaired;
// - an event's `frameSize` is the size of its encoded frame;
// - whatever decodes under tight limits decodes to the same value under the default ones.

import PlasmaCore
import PlasmaWire

private let defaultLimits = WireLimits()
private let tightLimits = WireLimits(maxPayload: 4096, maxItems: 4)

@inline(never)
private func violated(_ what: String) -> Never {
    fatalError("NativeDecoder property violated: \(what)")
}

private func decodeRequest(_ type: UInt16, _ payload: UnsafeRawBufferPointer, _ limits: WireLimits) -> Request? {
    do throws(WireError) { return try Request.decode(type: type, payload: payload, limits: limits) } catch { return nil }
}

private func decodeReply(_ type: UInt16, _ payload: UnsafeRawBufferPointer) -> Reply? {
    do throws(WireError) { return try Reply.decode(type: type, payload: payload) } catch { return nil }
}

private func decodeEvent(_ type: UInt16, _ payload: UnsafeRawBufferPointer) -> ObjectEvent? {
    do throws(WireError) { return try ObjectEvent.decode(type: type, payload: payload) } catch { return nil }
}

/// Splits a frame this process encoded itself: the header must decode and announce exactly the payload.
private func splitEncodedFrame<T>(
    _ frame: [UInt8], expectType: UInt16, expectRequestID: UInt64, _ body: (UnsafeRawBufferPointer) -> T
) -> T {
    frame.withUnsafeBytes { raw -> T in
        let header: FrameHeader?
        do throws(WireError) { header = try FrameHeader.decode(raw, maxPayload: Int(UInt32.max)) } catch {
            violated("re-encoded header does not decode: \(error)")
        }
        guard let header else { violated("re-encoded frame shorter than a header (\(frame.count) bytes)") }
        guard header.type == expectType, header.requestID == expectRequestID,
            header.payloadLength == frame.count - FrameHeader.size
        else { violated("re-encoded header \(header) for type \(expectType), id \(expectRequestID), \(frame.count) bytes") }
        return body(UnsafeRawBufferPointer(rebasing: raw[FrameHeader.size...]))
    }
}

private func checkRequest(_ type: UInt16, requestID: UInt64, _ payload: UnsafeRawBufferPointer) {
    let loose = decodeRequest(type, payload, defaultLimits)
    if let tight = decodeRequest(type, payload, tightLimits), tight != loose {
        violated("request decodes under tight limits to \(tight) but under default limits to \(String(describing: loose))")
    }
    guard let request = loose else { return }
    guard request.messageType.rawValue == type else { violated("request \(request) decoded from type \(type)") }
    var writer = ByteWriter()
    request.encode(requestID: requestID, into: &writer)
    splitEncodedFrame(writer.buffer, expectType: type, expectRequestID: requestID) { again in
        guard let decoded = decodeRequest(type, again, defaultLimits) else {
            violated("re-encoded request \(request) does not decode")
        }
        guard decoded == request else { violated("request \(request) round-trips to \(decoded)") }
        if case .connect = request { return }
        guard again.elementsEqual(payload) else {
            violated("request \(request) re-encodes to \(Array(again)) but was decoded from \(Array(payload))")
        }
    }
}

private func checkReply(_ type: UInt16, requestID: UInt64, _ payload: UnsafeRawBufferPointer) {
    guard let reply = decodeReply(type, payload) else { return }
    guard let requestType = MessageType(rawValue: type & ~MessageType.replyBit) else {
        violated("reply \(reply) decoded from unknown type \(type)")
    }
    var writer = ByteWriter()
    reply.encode(type: requestType, requestID: requestID, into: &writer)
    splitEncodedFrame(writer.buffer, expectType: requestType.replyType, expectRequestID: requestID) { again in
        guard let decoded = decodeReply(requestType.replyType, again) else {
            violated("re-encoded reply \(reply) does not decode")
        }
        guard decoded == reply else { violated("reply \(reply) round-trips to \(decoded)") }
    }
}

private func checkEvent(_ type: UInt16, subscriptionID: UInt64, _ payload: UnsafeRawBufferPointer) {
    guard let event = decodeEvent(type, payload) else { return }
    var writer = ByteWriter()
    event.encode(subscriptionID: subscriptionID, into: &writer)
    guard event.frameSize == writer.buffer.count else {
        violated("event \(event) has frameSize \(event.frameSize) but encodes to \(writer.buffer.count) bytes")
    }
    splitEncodedFrame(writer.buffer, expectType: MessageType.eventBit | event.kind, expectRequestID: subscriptionID) {
        again in
        guard let decoded = decodeEvent(MessageType.eventBit | event.kind, again) else {
            violated("re-encoded event \(event) does not decode")
        }
        guard decoded == event else { violated("event \(event) round-trips to \(decoded)") }
    }
}

private func checkPayload(type: UInt16, requestID: UInt64, _ payload: UnsafeRawBufferPointer) {
    // Each decoder checks the type itself; feeding all three also covers their rejection paths.
    checkRequest(type, requestID: requestID, payload)
    checkReply(type, requestID: requestID, payload)
    checkEvent(type, subscriptionID: requestID, payload)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    var offset = 0
    var frames = 0
    while offset < input.count {
        let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
        let header: FrameHeader?
        do throws(WireError) {
            header = try FrameHeader.decode(rest, maxPayload: defaultLimits.maxPayload)
        } catch {
            header = nil
            if frames == 0, input.count >= 2 {
                // Not a frame stream: fuzz the payload decoders directly.
                let type = UInt16(input[0]) | UInt16(input[1]) << 8
                checkPayload(type: type, requestID: 7, UnsafeRawBufferPointer(rebasing: input[2...]))
            }
            break
        }
        guard let header else { break }  // fewer than 24 bytes left: wait for more, as the store does
        let available = rest.count - FrameHeader.size
        // A frame announcing more than the input holds is still decoded (truncated) once, then the stream ends.
        let length = min(header.payloadLength, available)
        let payload = UnsafeRawBufferPointer(rebasing: rest[FrameHeader.size..<(FrameHeader.size + length)])
        checkPayload(type: header.type, requestID: header.requestID, payload)
        frames += 1
        if header.payloadLength > available { break }
        offset += FrameHeader.size + length
    }
    return 0
}
