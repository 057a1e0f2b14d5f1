// libFuzzer harness for the Arrow Plasma codec (Sources/PlasmaWire/Arrow): ArrowFrameHeader,
// ArrowRequest, ArrowReply, ArrowNotification and the verifying FlatBufferReader underneath.
// Built and run by Fuzz/run.sh; see Fuzz/README.md.
//
// The input is read in the first of three ways that fits:
// 1. a stream of Arrow frames (24-byte header: int64 version 0, int64 type, int64 length; then the
//    payload), as the store reads its socket;
// 2. if the first frame header is rejected: a stream of notification messages (int64 size in host order,
//    then a PlasmaNotification flatbuffer), as a subscriber reads its notification socket;
// 3. if that is rejected too: raw, the first byte a message type and the rest one payload, so that the
//    flatbuffer decoders are fuzzed without the framing in the way.
// Every payload goes to ArrowRequest.decode, ArrowReply.decode and ArrowNotification.decode (each rejects
// the types it doesn't own), and through a schema-less walk of FlatBufferReader's public accessors.
//
// Properties (a violation traps, which libFuzzer reports as a crash):
// - no decoder crashes or reads outside the input, whatever the bytes (they must throw WireError);
// - a decoded request, reply or notification re-encodes (payload and whole frame / message) to bytes
//   that decode to the same value;
// - whatever decodes under tight limits decodes to the same value under the default ones.

import PlasmaCore
import PlasmaWire

private let defaultLimits = WireLimits()
private let tightLimits = WireLimits(maxPayload: 512, maxItems: 4)

@inline(never)
private func violated(_ what: String) -> Never {
    fatalError("ArrowDecoder property violated: \(what)")
}

private func decode<Message: ArrowMessage>(
    _: Message.Type, _ type: Int64, _ payload: UnsafeRawBufferPointer, _ limits: WireLimits
) -> Message? {
    do throws(WireError) { return try Message.decode(type: type, payload: payload, limits: limits) } catch {
        return nil
    }
}

private func decodeNotification(_ payload: UnsafeRawBufferPointer, _ limits: WireLimits) -> ArrowNotification? {
    do throws(WireError) { return try ArrowNotification.decode(payload: payload, limits: limits) } catch {
        return nil
    }
}

/// The request and the reply decoder each: tight limits agree with the default ones, and what decodes
/// re-encodes (payload, and whole frame) to bytes that decode to the same value.
private func check<Message: ArrowMessage>(_ kind: Message.Type, _ type: Int64, _ payload: UnsafeRawBufferPointer) {
    let loose = decode(kind, type, payload, defaultLimits)
    if let tight = decode(kind, type, payload, tightLimits), tight != loose {
        violated("\(kind) decodes under tight limits to \(tight) but under default limits to \(String(describing: loose))")
    }
    guard let message = loose else { return }
    guard message.messageType.rawValue == type else { violated("\(kind) \(message) decoded from type \(type)") }
    let decoded: Message
    do throws(WireError) {
        decoded = try Message.decode(type: type, payload: message.encodePayload(), limits: defaultLimits)
    } catch {
        violated("re-encoded \(kind) \(message) does not decode: \(error)")
    }
    guard decoded == message else { violated("\(kind) \(message) round-trips to \(decoded)") }
    do throws(WireError) {
        let fromFrame = try Message.decode(frame: message.encode(), limits: defaultLimits)
        guard fromFrame == message else { violated("\(kind) \(message) round-trips through its frame to \(fromFrame)") }
    } catch {
        violated("frame of \(kind) \(message) does not decode: \(error)")
    }
}

private func checkNotification(_ payload: UnsafeRawBufferPointer) {
    let loose = decodeNotification(payload, defaultLimits)
    if let tight = decodeNotification(payload, tightLimits), tight != loose {
        violated("notification decodes under tight limits to \(tight) but under default limits to \(String(describing: loose))")
    }
    guard let notification = loose else { return }
    let again = notification.encodePayload()
    guard let decoded = again.withUnsafeBytes({ decodeNotification($0, defaultLimits) }) else {
        violated("re-encoded notification \(notification) does not decode")
    }
    guard decoded == notification else { violated("notification \(notification) round-trips to \(decoded)") }
    do throws(WireError) {
        let fromMessage = try ArrowNotification.decode(message: notification.encode(), limits: defaultLimits)
        guard fromMessage == notification else {
            violated("notification \(notification) round-trips through its message to \(fromMessage)")
        }
    } catch {
        violated("message of notification \(notification) does not decode: \(error)")
    }
}

// MARK: Schema-less walk of the verifying reader

/// Touches every accessor of every field a table may have, recursing into tables and vectors. Only the
/// preconditions the reader documents as the caller's (index in range, scalar no wider than the
/// element, read inside the struct) are respected; everything else must throw, not trap.
private func walk(_ table: FlatTable, depth: Int, budget: inout Int) {
    guard depth < 4 else { return }
    for id in 0..<9 {
        guard budget > 0 else { return }
        budget -= 1
        _ = try? table.has(id)
        _ = try? table.scalar(id, default: UInt8(0))
        _ = try? table.scalar(id, default: Int16(0))
        _ = try? table.scalar(id, default: Int32(0))
        _ = try? table.scalar(id, default: UInt64(0))
        _ = try? table.bool(id)
        _ = try? table.stringBytes(id)
        _ = try? table.bytes(id)
        _ = try? table.string(id)
        if let fields = try? table.structField(id, size: 48) {
            _ = fields.scalar(at: 0, as: Int32.self)
            _ = fields.scalar(at: 40, as: UInt64.self)
        }
        if let child = try? table.table(id) { walk(child, depth: depth + 1, budget: &budget) }
        for elementSize in [1, 4, 8, 48] {
            guard let vector = try? table.vector(id, elementSize: elementSize, limit: 64) else { continue }
            for index in 0..<min(vector.count, 8) {
                budget -= 1
                _ = vector.scalar(at: index, as: UInt8.self)
                if elementSize >= 4 {
                    _ = vector.scalar(at: index, as: Int32.self)
                    _ = try? vector.stringBytes(at: index)
                    if let child = try? vector.table(at: index) { walk(child, depth: depth + 1, budget: &budget) }
                }
                if elementSize >= 8 { _ = vector.scalar(at: index, as: UInt64.self) }
                let element = vector.structElement(at: index)
                _ = element.scalar(at: element.size - 1, as: UInt8.self)
            }
        }
    }
}

private func walkFlatbuffer(_ payload: UnsafeRawBufferPointer) {
    guard let reader = try? FlatBufferReader(payload), let root = try? reader.root() else { return }
    var budget = 256
    walk(root, depth: 0, budget: &budget)
}

private func checkPayload(type: Int64, _ payload: UnsafeRawBufferPointer) {
    check(ArrowRequest.self, type, payload)
    check(ArrowReply.self, type, payload)
    checkNotification(payload)
    walkFlatbuffer(payload)
}

// MARK: Entry point

/// Mode 1; returns false when the very first header is rejected.
private func readFrames(_ input: UnsafeRawBufferPointer) -> Bool {
    var offset = 0
    var frames = 0
    while offset < input.count {
        let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
        let header: ArrowFrameHeader?
        do throws(WireError) { header = try ArrowFrameHeader.decode(rest, maxPayload: defaultLimits.maxPayload) } catch {
            return frames > 0
        }
        guard let header else { return true }  // fewer than 24 bytes left
        let available = rest.count - ArrowFrameHeader.size
        let length = min(header.payloadLength, available)
        let payload = UnsafeRawBufferPointer(rebasing: rest[ArrowFrameHeader.size..<(ArrowFrameHeader.size + length)])
        checkPayload(type: header.type, payload)
        frames += 1
        if header.payloadLength > available { return true }
        offset += ArrowFrameHeader.size + length
    }
    return true
}

/// Mode 2; returns false when the very first size prefix is rejected.
private func readNotifications(_ input: UnsafeRawBufferPointer) -> Bool {
    var offset = 0
    var messages = 0
    while offset < input.count {
        let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
        let size: Int?
        do throws(WireError) { size = try ArrowNotification.payloadSize(rest, maxPayload: defaultLimits.maxPayload) } catch {
            return messages > 0
        }
        guard let size else { return true }
        let available = rest.count - ArrowNotification.sizePrefixBytes
        let length = min(size, available)
        let start = ArrowNotification.sizePrefixBytes
        let payload = UnsafeRawBufferPointer(rebasing: rest[start..<(start + length)])
        checkNotification(payload)
        walkFlatbuffer(payload)
        // The whole-message decoder must agree with prefix + payload decoding.
        let message = Array(UnsafeRawBufferPointer(rebasing: rest[0..<(start + length)]))
        let whole = try? ArrowNotification.decode(message: message, limits: defaultLimits)
        if size <= available, whole != decodeNotification(payload, defaultLimits) {
            violated("notification message decodes to \(String(describing: whole)), its payload differently")
        }
        messages += 1
        if size > available { return true }
        offset += start + length
    }
    return true
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    if readFrames(input) { return 0 }
    if readNotifications(input) { return 0 }
    if input.count >= 1 {
        checkPayload(type: Int64(input[0]), UnsafeRawBufferPointer(rebasing: input[1...]))
    }
    return 0
}
