import PlasmaCore
import PlasmaTestSupport
import PlasmaWire
import Testing

// MARK: - Helpers

/// Bytes from hex text; whitespace and newlines are ignored.
private func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8.filter { !($0 == 32 || $0 == 10) })
    precondition(digits.count % 2 == 0, "odd hex")
    func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
    return stride(from: 0, to: digits.count, by: 2).map { nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
}

private func id(_ byte: Character) -> ObjectID {
    ObjectID(bytes: [UInt8](repeating: byte.asciiValue!, count: 20))!
}

private func arrowID(_ seed: UInt8) -> ObjectID {
    ObjectID(bytes: (0..<20).map { seed &* 31 &+ UInt8($0) })!
}

private func header(_ type: Int64, _ length: Int) -> [UInt8] {
    var bytes = [UInt8]()
    ArrowFrameHeader(type: type, payloadLength: length).encode(into: &bytes)
    return bytes
}

private func decodeRequest(_ type: ArrowMessageType, _ payload: [UInt8], limits: WireLimits = WireLimits()) throws
    -> ArrowRequest
{
    try ArrowRequest.decode(type: type.rawValue, payload: payload, limits: limits)
}

private func decodeReply(_ type: ArrowMessageType, _ payload: [UInt8], limits: WireLimits = WireLimits()) throws
    -> ArrowReply
{
    try ArrowReply.decode(type: type.rawValue, payload: payload, limits: limits)
}

private func expectWireError(
    _ payload: [UInt8], as type: ArrowMessageType, reply: Bool = false, limits: WireLimits = WireLimits(),
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(throws: WireError.self, sourceLocation: sourceLocation) {
        if reply { _ = try decodeReply(type, payload, limits: limits) } else { _ = try decodeRequest(type, payload, limits: limits) }
    }
}

private func patch<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int, _ value: T) -> [UInt8] {
    var copy = bytes
    withUnsafeBytes(of: value.littleEndian) { raw in
        for (index, byte) in raw.enumerated() { copy[offset + index] = byte }
    }
    return copy
}

private func u32(_ bytes: [UInt8], _ offset: Int) -> Int {
    bytes.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }
}


// MARK: - Samples

private let digestA: [UInt8] = [0x7B, 0x9C, 0xF8, 0xB6, 0xAB, 0x34, 0x6C, 0x0D]
private let digestB: [UInt8] = [0x7C, 0x78, 0xCA, 0x78, 0x20, 0xA5, 0xD6, 0xB2]

private let sampleRequests: [ArrowRequest] = [
    .connect,
    .create(id: arrowID(1), evictIfFull: true, dataSize: 5, metadataSize: 2, deviceNum: 0),
    .create(id: arrowID(2), evictIfFull: false, dataSize: 0, metadataSize: 0, deviceNum: 3),
    .create(id: arrowID(3), evictIfFull: true, dataSize: .max, metadataSize: 1 << 40, deviceNum: -1),
    .createAndSeal(id: arrowID(4), evictIfFull: true, data: Array("hello".utf8), metadata: [1, 2], digest: digestA),
    .createAndSeal(id: arrowID(5), evictIfFull: false, data: [], metadata: [], digest: digestB),
    .createAndSealBatch(
        ids: [arrowID(6), arrowID(7)], evictIfFull: true, data: [[1, 2, 3], []], metadata: [[], [9]],
        digests: [digestA, digestB]),
    .createAndSealBatch(ids: [], evictIfFull: false, data: [], metadata: [], digests: []),
    .abort(id: arrowID(8)),
    .seal(id: arrowID(9), digest: digestA),
    .get(ids: [arrowID(1), arrowID(2), arrowID(1)], timeoutMs: -1),
    .get(ids: [], timeoutMs: 0),
    .get(ids: [arrowID(3)], timeoutMs: 1000),
    .release(id: arrowID(10)),
    .delete(ids: [arrowID(11), arrowID(12)]),
    .delete(ids: []),
    .contains(id: arrowID(13)),
    .list,
    .evict(numBytes: 0),
    .evict(numBytes: .max),
    .subscribe,
    .setOptions(clientName: "client ✓", outputMemoryQuota: 1_000_000),
    .setOptions(clientName: "", outputMemoryQuota: 0),
    .getDebugString,
    .refreshLRU(ids: [arrowID(14), arrowID(15)]),
    .refreshLRU(ids: []),
]

private let specA = ArrowObjectSpec(
    segmentIndex: 4, dataOffset: 64, dataSize: 5, metadataOffset: 69, metadataSize: 2, deviceNum: 0)

private let sampleReplies: [ArrowReply] = [
    .connect(memoryCapacity: 100_000_000),
    .connect(memoryCapacity: 0),
    .create(id: arrowID(1), spec: specA, error: .ok, storeFd: 4, mmapSize: 100_007_944),
    .create(id: arrowID(2), spec: ArrowObjectSpec(segmentIndex: 0, dataOffset: 0, dataSize: 0, metadataOffset: 0,
        metadataSize: 0), error: .outOfMemory, storeFd: 0, mmapSize: 0),
    .createAndSeal(error: .ok),
    .createAndSeal(error: .objectExists),
    .createAndSealBatch(error: .outOfMemory),
    .abort(id: arrowID(3)),
    .seal(id: arrowID(4), error: .ok),
    .seal(id: arrowID(4), error: .objectNotFound),
    .get(ids: [arrowID(1), arrowID(5), arrowID(1)], specs: [specA, .notFound, specA], storeFds: [4],
         mmapSizes: [100_007_944]),
    .get(ids: [arrowID(5)], specs: [.notFound], storeFds: [], mmapSizes: []),
    .get(ids: [], specs: [], storeFds: [], mmapSizes: []),
    .get(ids: [arrowID(6), arrowID(7)], specs: [specA, ArrowObjectSpec(segmentIndex: 9, dataOffset: 1 << 33,
        dataSize: 1, metadataOffset: (1 << 33) + 1, metadataSize: 0, deviceNum: 0)], storeFds: [4, 9],
         mmapSizes: [100_007_944, 4_718_600]),
    .delete(ids: [arrowID(8), arrowID(9)], errors: [.ok, .objectInUse]),
    .delete(ids: [], errors: []),
    .contains(id: arrowID(10), hasObject: true),
    .contains(id: arrowID(10), hasObject: false),
    .list([
        ArrowObjectInfo(objectID: arrowID(11), dataSize: 5, metadataSize: 2, refCount: 1, createTime: 1_795_737_220,
                        constructDuration: 3, digest: digestA),
        ArrowObjectInfo(objectID: arrowID(12), dataSize: 1, metadataSize: 0, refCount: 1, createTime: 17,
                        constructDuration: -1, digest: []),
    ]),
    .list([]),
    .evict(numBytes: 998),
    .setOptions(error: .ok),
    .setOptions(error: .outOfMemory),
    .getDebugString("num clients with quota: 0\n"),
    .getDebugString(""),
    .refreshLRU,
]

private let sampleNotifications: [ArrowNotification] = [
    ArrowNotification([.sealed(id: arrowID(1), dataSize: 5, metadataSize: 2, digest: digestA)]),
    ArrowNotification([.deleted(id: arrowID(2))]),
    ArrowNotification([
        .sealed(id: arrowID(3), dataSize: 0, metadataSize: 0, digest: digestB),
        .sealed(id: arrowID(4), dataSize: 10_000, metadataSize: 7, digest: digestA),
    ]),
    ArrowNotification([]),
]

// MARK: - Frames captured from pyarrow 11.0.0
//
// Captured on Linux x86-64 with pyarrow==11.0.0 (pip wheel, `plasma-store-server -m 100000000`) under
// `strace -f -xx -s 65536 -e trace=read,write,sendmsg,recvmsg,sendto`, driving the store with
// `pyarrow.plasma.connect(...)` from Python (subscribe, create/seal, get, create_and_seal, contains,
// list, set_client_options, debug_string, delete, evict), and then joining the store's 8-byte header
// reads/writes and payload into frames. Ids are 20 × "A", "B", "M" (never created) and "U" (left
// unsealed). Requests were written by the pyarrow client, replies and notifications by the C++ store.

private struct Captured: Sendable {
    let type: ArrowMessageType
    let payload: String
}

private let capturedRequests: [(Captured, ArrowRequest)] = [
    (Captured(type: .connectRequest, payload: """
        080000000400040004000000
        """), .connect),
    (Captured(type: .subscribeRequest, payload: """
        080000000400040004000000
        """), .subscribe),
    (Captured(type: .createRequest, payload: """
        14000000000000000c002000080007000c0014000c000000000000011800000005000000000000000200000000000000
        0000000014000000414141414141414141414141414141414141414100000000
        """),
     .create(id: id("A"), evictIfFull: true, dataSize: 5, metadataSize: 2, deviceNum: 0)),
    (Captured(type: .sealRequest, payload: """
        0c00000008000c0004000800080000000800000020000000140000004141414141414141414141414141414141414141
        00000000080000007b9cf8b6ab346c0d00000000
        """), .seal(id: id("A"), digest: digestA)),
    (Captured(type: .releaseRequest, payload: """
        0c0000000000060008000400060000000400000014000000414141414141414141414141414141414141414100000000
        """), .release(id: id("A"))),
    (Captured(type: .getRequest, payload: """
        0c00000000000600080004000600000004000000020000002400000004000000140000004d4d4d4d4d4d4d4d4d4d4d4d
        4d4d4d4d4d4d4d4d0000000014000000414141414141414141414141414141414141414100000000
        """), .get(ids: [id("A"), id("M")], timeoutMs: 0)),
    (Captured(type: .createAndSealRequest, payload: """
        1400000000000e001800080007000c00100014000e000000000000011000000028000000300000003800000014000000
        4242424242424242424242424242424242424242000000000500000068656c6c6f000000040000006d65746100000000
        080000007c78ca7820a5d6b200000000
        """),
     .createAndSeal(id: id("B"), evictIfFull: true, data: Array("hello".utf8), metadata: Array("meta".utf8),
                    digest: digestB)),
    (Captured(type: .containsRequest, payload: """
        0c00000000000600080004000600000004000000140000004d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d00000000
        """), .contains(id: id("M"))),
    (Captured(type: .listRequest, payload: """
        080000000400040004000000
        """), .list),
    (Captured(type: .setOptionsRequest, payload: """
        10000000000000000800100004000800080000000c00000040420f00000000000300000063617000
        """),
     .setOptions(clientName: "cap", outputMemoryQuota: 1_000_000)),
    (Captured(type: .getDebugStringRequest, payload: """
        080000000400040004000000
        """), .getDebugString),
    (Captured(type: .deleteRequest, payload: """
        0c00000008000c0004000800080000000100000004000000010000000400000014000000424242424242424242424242
        424242424242424200000000
        """), .delete(ids: [id("B")])),
    (Captured(type: .evictRequest, payload: """
        0c000000000006000c000400060000000100000000000000
        """), .evict(numBytes: 1)),
    (Captured(type: .getRequest, payload: """
        0c000000000006000800040006000000040000000100000004000000140000004d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d
        4d4d4d4d00000000
        """), .get(ids: [id("M")], timeoutMs: 0)),
    (Captured(type: .createRequest, payload: """
        140000000000000000000a001800080007000c000a000000000000011000000003000000000000000000000014000000
        414141414141414141414141414141414141414100000000
        """),
     .create(id: id("A"), evictIfFull: true, dataSize: 3, metadataSize: 0, deviceNum: 0)),
    (Captured(type: .sealRequest, payload: """
        0c00000008000c0004000800080000000800000020000000140000004141414141414141414141414141414141414141
        000000000800000067566a42d4f295c200000000
        """),
     .seal(id: id("A"), digest: [0x67, 0x56, 0x6A, 0x42, 0xD4, 0xF2, 0x95, 0xC2])),
    (Captured(type: .createRequest, payload: """
        140000000000000000000a001800080007000c000a000000000000011000000001000000000000000000000014000000
        555555555555555555555555555555555555555500000000
        """),
     .create(id: id("U"), evictIfFull: true, dataSize: 1, metadataSize: 0, deviceNum: 0)),
    (Captured(type: .deleteRequest, payload: """
        0c00000008000c00040008000800000001000000040000000100000004000000140000004d4d4d4d4d4d4d4d4d4d4d4d
        4d4d4d4d4d4d4d4d00000000
        """), .delete(ids: [id("M")])),
]

private let capturedReplies: [(Captured, ArrowReply)] = [
    (Captured(type: .connectReply, payload: """
        0c000000000006000c0004000600000000e1f50500000000
        """), .connect(memoryCapacity: 100_000_000)),
    (Captured(type: .createReply, payload: """
        1400000000000e0048001000140000000c0004000e0000000800f6050000000004000000380000000400000000000000
        400000000000000005000000000000004500000000000000020000000000000000000000000000000000000014000000
        414141414141414141414141414141414141414100000000
        """),
     .create(id: id("A"), spec: specA, error: .ok, storeFd: 4, mmapSize: 100_007_944)),
    (Captured(type: .sealReply, payload: """
        0c0000000000060008000400060000000400000014000000414141414141414141414141414141414141414100000000
        """), .seal(id: id("A"), error: .ok)),
    (Captured(type: .getReply, payload: """
        180000000000000000000e001800040008000c00100014000e0000001400000054000000b8000000bc000000c8000000
        020000002400000004000000140000004d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d000000001400000041414141
        414141414141414141414141414141410000000002000000040000000000000040000000000000000500000000000000
        45000000000000000200000000000000000000000000000000000000000000000000000000000000ffffffffffffffff
        000000000000000000000000000000000000000000000000000000000100000004000000010000000800f60500000000
        0000000000000000
        """),
     .get(ids: [id("A"), id("M")], specs: [specA, .notFound], storeFds: [4], mmapSizes: [100_007_944])),
    (Captured(type: .createAndSealReply, payload: """
        080000000400040004000000
        """), .createAndSeal(error: .ok)),
    (Captured(type: .containsReply, payload: """
        0c00000000000600080004000600000004000000140000004d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d00000000
        """), .contains(id: id("M"), hasObject: false)),
    (Captured(type: .listReply, payload: """
        0c00000000000600080004000600000004000000020000007c0000001800000000001200240004000c00140000001c00
        000008001200000020000000380000000500000000000000020000000000000084c6086b000000001400000041414141
        4141414141414141414141414141414100000000080000007b9cf8b6ab346c0d00001200280004000c00140000001c00
        0000080012000000240000003c0000000500000000000000040000000000000084c6086b000000000000000014000000
        424242424242424242424242424242424242424200000000080000007c78ca7820a5d6b200000000
        """),
     .list([
        ArrowObjectInfo(objectID: id("B"), dataSize: 5, metadataSize: 4, refCount: 0, createTime: 1_795_737_220,
                        constructDuration: 0, digest: digestB),
        ArrowObjectInfo(objectID: id("A"), dataSize: 5, metadataSize: 2, refCount: 0, createTime: 1_795_737_220,
                        constructDuration: 0, digest: digestA),
     ])),
    (Captured(type: .setOptionsReply, payload: """
        080000000400040004000000
        """), .setOptions(error: .ok)),
    (Captured(type: .deleteReply, payload: """
        1000000000000a001000040008000c000a00000001000000080000002800000001000000040000001400000042424242
        42424242424242424242424242424242000000000100000000000000
        """), .delete(count: 1, ids: [id("B")], errors: [.ok])),
    (Captured(type: .evictReply, payload: """
        0c000000000006000c000400060000000700000000000000
        """), .evict(numBytes: 7)),
    (Captured(type: .getReply, payload: """
        180000000000000000000e001800040008000c00100014000e0000001400000034000000640000006400000068000000
        0100000004000000140000004d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d00000000010000000000000000000000
        0000000000000000ffffffffffffffff0000000000000000000000000000000000000000000000000000000000000000
        0000000000000000
        """),
     .get(ids: [id("M")], specs: [.notFound], storeFds: [], mmapSizes: [])),
    (Captured(type: .createReply, payload: """
        1400000000000e0048001000140000000c0004000e0000000800f6050000000004000000380000000400000000000000
        400000000000000003000000000000004300000000000000000000000000000000000000000000000000000014000000
        414141414141414141414141414141414141414100000000
        """),
     .create(id: id("A"), spec: ArrowObjectSpec(segmentIndex: 4, dataOffset: 64, dataSize: 3, metadataOffset: 67,
                                                metadataSize: 0), error: .ok, storeFd: 4, mmapSize: 100_007_944)),
    (Captured(type: .createReply, payload: """
        1000000000000a003c000400080038000a00000038000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000010000001400000041414141414141414141414141414141
        4141414100000000
        """),
     .create(id: id("A"), spec: ArrowObjectSpec(segmentIndex: 0, dataOffset: 0, dataSize: 0, metadataOffset: 0,
                                                metadataSize: 0), error: .objectExists, storeFd: 0, mmapSize: 0)),
    (Captured(type: .containsReply, payload: """
        0c00000008000c0004000800080000000800000001000000140000004141414141414141414141414141414141414141
        00000000
        """), .contains(id: id("A"), hasObject: true)),
    (Captured(type: .listReply, payload: """
        0c0000000000060008000400060000000400000002000000780000001800000000001200200004000c00000000001400
        00000800120000001c00000034000000030000000000000095c7086b0000000000000000140000004141414141414141
        414141414141414141414141000000000800000067566a42d4f295c2000012002c000400100000000800180020000c00
        1200000028000000010000003c000000010000000000000095c7086b00000000ffffffffffffffff0000000014000000
        5555555555555555555555555555555555555555000000000000000000000000
        """),
     .list([
        ArrowObjectInfo(objectID: id("U"), dataSize: 1, metadataSize: 0, refCount: 1, createTime: 1_795_737_493,
                        constructDuration: -1, digest: []),
        ArrowObjectInfo(objectID: id("A"), dataSize: 3, metadataSize: 0, refCount: 0, createTime: 1_795_737_493,
                        constructDuration: 0, digest: [0x67, 0x56, 0x6A, 0x42, 0xD4, 0xF2, 0x95, 0xC2]),
     ])),
    (Captured(type: .deleteReply, payload: """
        1000000000000a001000040008000c000a0000000100000008000000280000000100000004000000140000004d4d4d4d
        4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d000000000100000002000000
        """),
     .delete(count: 1, ids: [id("M")], errors: [.objectNotFound])),
]

/// The store's GetDebugStringReply (its text is checked by round trip rather than spelled out twice).
private let capturedDebugStringReply = """
        0c00000000000600080004000600000004000000820100006e756d20636c69656e747320776974682071756f74613a20
        310a71756f7461206d61702073697a653a20300a70696e6e65642071756f7461206d61702073697a653a20300a616c6c
        6f63617465642062797465733a2031360a616c6c6f636174696f6e206c696d69743a203130303030303030300a70696e
        6e65642062797465733a20300a28676c6f62616c206c7275292063617061636974793a2039393030303030300a28676c
        6f62616c206c72752920757365643a20312e3030303032250a28676c6f62616c206c727529206e756d206f626a656374
        733a20320a28676c6f62616c206c727529206e756d206576696374696f6e733a20300a28676c6f62616c206c72752920
        627974657320657669637465643a20300a28636170292063617061636974793a20313030303030300a28636170292075
        7365643a2030250a2863617029206e756d206f626a656374733a20300a2863617029206e756d206576696374696f6e73
        3a20300a286361702920627974657320657669637465643a20300000
        """

/// Whole notification messages (8-byte host-order size, then the flatbuffer) as the store sent them on
/// the subscriber's socket: seal of A (5 + 2 bytes), seal of B (5 + 4), deletion of B, deletion of A.
private let capturedNotifications: [(String, ArrowNotification)] = [
    ("""
        800000000000000010000000000000000000060008000400060000000400000001000000180000000000120020000400
        0c0014000000000000000800120000002c00000018000000050000000000000002000000000000000000000008000000
        7b9cf8b6ab346c0d0000000014000000414141414141414141414141414141414141414100000000
        """, ArrowNotification([.sealed(id: id("A"), dataSize: 5, metadataSize: 2, digest: digestA)])),
    ("""
        800000000000000010000000000000000000060008000400060000000400000001000000180000000000120020000400
        0c0014000000000000000800120000002c00000018000000050000000000000004000000000000000000000008000000
        7c78ca7820a5d6b20000000014000000424242424242424242424242424242424242424200000000
        """, ArrowNotification([.sealed(id: id("B"), dataSize: 5, metadataSize: 4, digest: digestB)])),
    ("""
        58000000000000000c00000000000600080004000600000004000000010000001800000014000c000800000000000000
        000000000000070014000000000000010400000014000000424242424242424242424242424242424242424200000000
        """, ArrowNotification([.deleted(id: id("B"))])),
    ("""
        58000000000000000c00000000000600080004000600000004000000010000001800000014000c000800000000000000
        000000000000070014000000000000010400000014000000414141414141414141414141414141414141414100000000
        """, ArrowNotification([.deleted(id: id("A"))])),
]

// MARK: - Payloads from the reference Python flatbuffers Builder
//
// For messages the Python API of pyarrow can't send (batch create, RefreshLRU, Abort) or shapes not in the
// captures, the same messages were built with the official Python `flatbuffers` package (25.12.19):
// `Builder.CreateString`, `StartVector`/`Prepend…`/`EndVector`, `StartObject`/`Prepend…Slot`/`EndObject`
// and `Finish`, called in the order libplasma 11 / the C++ store builds each message (the same order as
// our encoders). The Python builder implements the same back-to-front algorithm (alignment, vtable
// trimming and sharing) as the C++ one.

private let referenceBuilderPayloads: [(String, [UInt8])] = [
    ("""
        1400000000000e001800080007000c00100014000e000000000000011000000050000000680000008000000002000000
        240000000400000014000000d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebec0000000014000000babbbcbdbebfc0c1
        c2c3c4c5c6c7c8c9cacbcccd000000000200000010000000040000000000000000000000030000000102030002000000
        100000000400000001000000090000000000000000000000020000001800000004000000080000007c78ca7820a5d6b2
        00000000080000007b9cf8b6ab346c0d00000000
        """, ArrowRequest.createAndSealBatch(
        ids: [arrowID(6), arrowID(7)], evictIfFull: true, data: [[1, 2, 3], []], metadata: [[], [9]],
        digests: [digestA, digestB]).encodePayload()),
    ("""
        0c0000000000060008000400060000000400000002000000240000000400000014000000d1d2d3d4d5d6d7d8d9dadbdc
        dddedfe0e1e2e3e40000000014000000b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c500000000
        """, ArrowRequest.refreshLRU(ids: [arrowID(14), arrowID(15)]).encodePayload()),
    ("""
        0c0000000000060008000400060000000400000014000000f8f9fafbfcfdfeff000102030405060708090a0b00000000
        """, ArrowRequest.abort(id: arrowID(8)).encodePayload()),
    ("""
        0c0000000000060008000400060000000400000014000000f8f9fafbfcfdfeff000102030405060708090a0b00000000
        """, ArrowReply.abort(id: arrowID(8)).encodePayload()),
    ("""
        0c00000000000600080004000600000003000000
        """, ArrowReply.createAndSealBatch(error: .outOfMemory).encodePayload()),
    ("""
        080000000400040004000000
        """, ArrowReply.refreshLRU.encodePayload()),
    ("""
        1000000000000a001000040008000c000a00000002000000080000004800000002000000240000000400000014000000
        1718191a1b1c1d1e1f202122232425262728292a0000000014000000f8f9fafbfcfdfeff000102030405060708090a0b
        00000000020000000000000005000000
        """, ArrowReply.delete(ids: [arrowID(8), arrowID(9)], errors: [.ok, .objectInUse]).encodePayload()),
    ("""
        180000000000000000000e001800040008000c00100014000e0000001400000014000000140000001400000018000000
        000000000000000000000000000000000000000000000000
        """, ArrowReply.get(ids: [], specs: [], storeFds: [], mmapSizes: []).encodePayload()),
    ("""
        180000000000000000000e001800040008000c00100014000e0000001400000074000000080100000c01000018010000
        03000000440000002400000004000000140000001f202122232425262728292a2b2c2d2e2f3031320000000014000000
        9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadae00000000140000001f202122232425262728292a2b2c2d2e2f303132
        000000000300000004000000000000004000000000000000050000000000000045000000000000000200000000000000
        000000000000000000000000000000000000000000000000ffffffffffffffff00000000000000000000000000000000
        000000000000000004000000000000004000000000000000050000000000000045000000000000000200000000000000
        0000000000000000000000000100000004000000010000000800f605000000000000000000000000
        """, ArrowReply.get(ids: [arrowID(1), arrowID(5), arrowID(1)], specs: [specA, .notFound, specA],
                                      storeFds: [4], mmapSizes: [100_007_944]).encodePayload()),
    ("""
        10000000000000000000060008000400060000000400000003000000e400000080000000180000000000120028000400
        0c00140000001c000000080012000000240000003c000000060000000000000003000000000000001100000000000000
        0000000014000000939495969798999a9b9c9d9e9fa0a1a2a3a4a5a600000000080000007c78ca7820a5d6b200001200
        2c000400100000000800180020000c001200000028000000010000003c00000001000000000000001100000000000000
        ffffffffffffffff00000000140000007475767778797a7b7c7d7e7f8081828384858687000000000000000000001200
        34000400100018000800200028000c001200000030000000010000004400000005000000000000000200000000000000
        84c6086b000000000300000000000000000000001400000055565758595a5b5c5d5e5f60616263646566676800000000
        080000007b9cf8b6ab346c0d00000000
        """, ArrowReply.list([
        ArrowObjectInfo(objectID: arrowID(11), dataSize: 5, metadataSize: 2, refCount: 1, createTime: 1_795_737_220,
                        constructDuration: 3, digest: digestA),
        ArrowObjectInfo(objectID: arrowID(12), dataSize: 1, metadataSize: 0, refCount: 1, createTime: 17,
                        constructDuration: -1, digest: []),
        ArrowObjectInfo(objectID: arrowID(13), dataSize: 6, metadataSize: 3, refCount: 0, createTime: 17,
                        constructDuration: 0, digest: digestB),
    ]).encodePayload()),
    ("""
        0c0000000000060008000400060000000400000002000000780000001800000000001200200004000c00140000000000
        00000800120000002c000000180000001027000000000000070000000000000000000000080000007b9cf8b6ab346c0d
        00000000140000007c7d7e7f808182838485868788898a8b8c8d8e8f000012000c000400000000000000000000000800
        120000001800000004000000080000007c78ca7820a5d6b200000000140000005d5e5f606162636465666768696a6b6c
        6d6e6f7000000000
        """, ArrowNotification([
        .sealed(id: arrowID(3), dataSize: 0, metadataSize: 0, digest: digestB),
        .sealed(id: arrowID(4), dataSize: 10_000, metadataSize: 7, digest: digestA),
    ]).encodePayload()),
]

// MARK: - Tests

@Suite struct ArrowCodecTests {
    // MARK: Round trips

    @Test func everyRequestRoundTripsThroughAWholeFrame() throws {
        for request in sampleRequests {
            let frame = request.encode()
            let header = try #require(try ArrowFrameHeader.decode(frame, maxPayload: 1 << 20))
            #expect(header.type == request.messageType.rawValue)
            #expect(header.payloadLength == frame.count - ArrowFrameHeader.size)
            #expect(try ArrowRequest.decode(frame: frame) == request, "\(request)")
        }
    }

    /// The one-pass id vector (big GetReplies and DeleteReplies) gives exactly the bytes of one
    /// `createString` per id, whatever the padding before it, for odd lengths too.
    @Test func createStringsMatchesOneCreateStringPerItem() {
        for lead in 0..<4 {
            for length in [20, 7, 8] {
                for count in [0, 1, 2, 5, 300] {
                    let items = (0..<count).map { index in (0..<length).map { UInt8(truncatingIfNeeded: index &* 7 &+ $0) } }
                    func build(_ strings: (inout FlatBufferBuilder) -> [FlatBufferBuilder.Offset]) -> [UInt8] {
                        var builder = FlatBufferBuilder(capacity: 16)
                        _ = builder.createString([UInt8](repeating: 9, count: lead))
                        let vector = builder.createVector(offsets: strings(&builder))
                        builder.startTable()
                        builder.add(field: 0, vector)
                        return builder.finish(root: builder.endTable())
                    }
                    let oneByOne = build { builder in items.map { builder.createString($0) } }
                    let onePass = build { builder in
                        builder.createStrings(count: count, length: length) { index, destination in
                            items[index].withUnsafeBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: length) }
                        }
                    }
                    #expect(onePass == oneByOne, "lead \(lead), length \(length), count \(count)")
                }
            }
        }
    }

    @Test func sampleRequestsCoverEveryRequestType() {
        let requestTypes: Set<ArrowMessageType> = [
            .connectRequest, .createRequest, .createAndSealRequest, .createAndSealBatchRequest, .abortRequest,
            .sealRequest, .getRequest, .releaseRequest, .deleteRequest, .containsRequest, .listRequest,
            .evictRequest, .subscribeRequest, .setOptionsRequest, .getDebugStringRequest, .refreshLRURequest,
        ]
        #expect(Set(sampleRequests.map(\.messageType)) == requestTypes)
        let replyTypes = Set(requestTypes.compactMap { ArrowMessageType(rawValue: $0.rawValue + 1) })
            .subtracting([.releaseReply, .unsubscribeRequest])
        #expect(Set(sampleReplies.map(\.messageType)) == replyTypes)
    }

    @Test func everyReplyRoundTripsThroughAWholeFrame() throws {
        for reply in sampleReplies {
            let frame = reply.encode()
            let header = try #require(try ArrowFrameHeader.decode(frame, maxPayload: 1 << 20))
            #expect(header.type == reply.messageType.rawValue)
            #expect(header.payloadLength == frame.count - ArrowFrameHeader.size)
            #expect(try ArrowReply.decode(frame: frame) == reply, "\(reply)")
        }
    }

    /// The store's path: one builder reused for every reply, each frame appended to one output buffer
    /// behind the previous ones. Gives exactly `encode()`'s bytes, whatever the builder built before
    /// (bigger or smaller replies, shared vtables that must not leak from one reply into the next).
    @Test func reusedBuilderAppendsTheSameFrames() throws {
        let replies = sampleReplies + capturedReplies.map(\.1) + sampleReplies.reversed()
        var builder = FlatBufferBuilder(capacity: 16)
        var output: [UInt8] = [7]
        var expected: [UInt8] = [7]
        for reply in replies {
            reply.encode(into: &output, using: &builder)
            expected += reply.encode()
            #expect(output == expected, "\(reply)")
        }
    }

    @Test func everyNotificationRoundTrips() throws {
        for notification in sampleNotifications {
            let message = notification.encode()
            #expect(message.count == 8 + notification.encodePayload().count)
            #expect(try ArrowNotification.decode(message: message) == notification)
        }
    }

    @Test func payloadsAreAlignedFlatbuffers() {
        // The root offset is 4-aligned and every payload is a multiple of 4 (8 when it holds 8-byte scalars).
        for payload in sampleRequests.map({ $0.encodePayload() }) + sampleReplies.map({ $0.encodePayload() }) {
            #expect(payload.count % 4 == 0)
            #expect(u32(payload, 0) % 4 == 0)
        }
    }

    @Test func messageTypeNumbersMatchArrow() {
        #expect(ArrowMessageType.allCases.count == 36)
        for (index, type) in ArrowMessageType.allCases.enumerated() { #expect(type.rawValue == Int64(index)) }
        #expect(ArrowMessageType.connectRequest.rawValue == 19)
        #expect(ArrowMessageType.refreshLRUReply.rawValue == 35)
        #expect(ArrowPlasmaError.allCases.map(\.rawValue) == [0, 1, 2, 3, 4, 5])
        #expect(ArrowRequest.release(id: arrowID(1)).expectsReply == false)
        #expect(ArrowRequest.subscribe.expectsReply == false)
        #expect(ArrowRequest.list.expectsReply)
    }

    // MARK: Byte-exact against pyarrow 11

    @Test func requestsMatchPyarrowByteForByte() throws {
        for (captured, expected) in capturedRequests {
            let payload = hex(captured.payload)
            #expect(try decodeRequest(captured.type, payload) == expected, "\(captured.type)")
            #expect(expected.encodePayload() == payload, "encoding \(expected)")
        }
    }

    @Test func repliesMatchTheArrowStoreByteForByte() throws {
        for (captured, expected) in capturedReplies {
            let payload = hex(captured.payload)
            #expect(try decodeReply(captured.type, payload) == expected, "\(captured.type)")
            #expect(expected.encodePayload() == payload, "encoding \(expected)")
        }
        let debugPayload = hex(capturedDebugStringReply)
        guard case .getDebugString(let text) = try decodeReply(.getDebugStringReply, debugPayload) else {
            Issue.record("not a debug string reply")
            return
        }
        #expect(text.hasPrefix("num clients with quota: 1\nquota map size: 0\n"))
        #expect(text.count == 386)
        #expect(ArrowReply.getDebugString(text).encodePayload() == debugPayload)
    }

    @Test func wholeFramesMatchIncludingTheHeader() throws {
        // The store read 00×8 | 13 00.. | 0c 00.. then the 12-byte ConnectRequest, and wrote
        // 00×8 | 14 00.. | 18 00.. then the 24-byte ConnectReply (3 header writes + 1 payload write).
        let connectRequest = hex(
            "0000000000000000 1300000000000000 0c00000000000000 080000000400040004000000".replacingOccurrences(
                of: " ", with: ""))
        #expect(ArrowRequest.connect.encode() == connectRequest)
        #expect(try ArrowRequest.decode(frame: connectRequest) == .connect)
        let connectReply = header(20, 24) + hex(capturedReplies[0].0.payload)
        #expect(Array(connectReply.prefix(24)) == hex("000000000000000014000000000000001800000000000000"))
        #expect(ArrowReply.connect(memoryCapacity: 100_000_000).encode() == connectReply)
        let createReply = capturedReplies[1]
        #expect(createReply.1.encode() == header(2, 120) + hex(createReply.0.payload))
    }

    @Test func notificationsMatchTheArrowStoreByteForByte() throws {
        for (captured, expected) in capturedNotifications {
            let message = hex(captured)
            #expect(try ArrowNotification.decode(message: message) == expected)
            #expect(expected.encode() == message)
        }
        // The observed sizes: a seal with a 20-byte id and 8-byte digest is 8 + 128, a deletion 8 + 88.
        #expect(capturedNotifications[0].1.encode().count == 8 + 128)
        #expect(capturedNotifications[2].1.encode().count == 8 + 88)
    }

    @Test func otherMessagesMatchTheReferencePythonBuilder() {
        for (index, (reference, ours)) in referenceBuilderPayloads.enumerated() {
            #expect(ours == hex(reference), "payload \(index)")
        }
    }

    // MARK: Required fields are always written

    @Test func createReplyOnErrorStillCarriesObjectIDAndPlasmaObject() throws {
        let reply = ArrowReply.create(
            id: arrowID(1), spec: ArrowObjectSpec(segmentIndex: 0, dataOffset: 0, dataSize: 0, metadataOffset: 0,
                                                  metadataSize: 0), error: .outOfMemory, storeFd: 0, mmapSize: 0)
        let payload = reply.encodePayload()
        try payload.withUnsafeBytes { raw in
            let table = try FlatBufferReader(raw).root()
            #expect(try table.has(0))
            #expect(try table.structField(1, size: ArrowObjectSpec.byteCount) != nil)
            #expect(try table.scalar(2, default: Int32(0)) == 3)
            #expect(try !table.has(3))  // zero scalars are left out, like the C++ builder does
        }
    }

    @Test func emptyGetReplyStillCarriesAllFiveVectors() throws {
        let payload = ArrowReply.get(ids: [], specs: [], storeFds: [], mmapSizes: []).encodePayload()
        try payload.withUnsafeBytes { raw in
            let table = try FlatBufferReader(raw).root()
            for field in 0..<5 {
                let vector = try table.vector(field, elementSize: 4, limit: 10)
                #expect(vector?.count == 0, "field \(field)")
            }
        }
    }

    @Test func repliesMissingRequiredFieldsAreRejected() throws {
        // An empty table in place of each reply with a required field.
        let empty = ArrowRequest.connect.encodePayload()
        for type in [ArrowMessageType.createReply, .abortReply, .sealReply, .getReply, .containsReply, .listReply,
                     .getDebugStringReply] {
            expectWireError(empty, as: type, reply: true)
        }
        for type in [ArrowMessageType.connectReply, .createAndSealReply, .createAndSealBatchReply, .evictReply,
                     .setOptionsReply, .refreshLRUReply] {
            #expect(throws: Never.self) { _ = try decodeReply(type, empty) }
        }
    }

    @Test func absentScalarsReadAsTheirDefaults() throws {
        // pyarrow's CreateRequest for a 3-byte object leaves metadata_size and device_num out.
        let payload = hex(capturedRequests[14].0.payload)
        #expect(try decodeRequest(.createRequest, payload)
                == .create(id: id("A"), evictIfFull: true, dataSize: 3, metadataSize: 0, deviceNum: 0))
    }

    // MARK: Rejections

    @Test func truncatedPayloadsAreRejected() {
        let payload = ArrowRequest.create(id: arrowID(1), evictIfFull: true, dataSize: 5, metadataSize: 2,
                                          deviceNum: 0).encodePayload()
        // Everything up to the id string's NUL terminator is needed (only the final padding is not).
        let needed = payload.count - 3
        for length in 0..<needed { expectWireError(Array(payload.prefix(length)), as: .createRequest) }
        #expect(throws: Never.self) { _ = try decodeRequest(.createRequest, Array(payload.prefix(needed))) }
        #expect(throws: WireError.truncated(needed: 4, available: 3)) {
            _ = try decodeRequest(.connectRequest, [8, 0, 0])
        }
    }

    @Test func rootOffsetOutOfRangeIsRejected() {
        let payload = ArrowRequest.contains(id: arrowID(1)).encodePayload()
        for root in [UInt32(0), UInt32(payload.count), UInt32(payload.count - 2), 0xFFFF_FFFF, 0x8000_0000] {
            expectWireError(patch(payload, at: 0, root), as: .containsRequest)
        }
    }

    @Test func vtableOutOfRangeIsRejected() {
        let payload = ArrowRequest.contains(id: arrowID(1)).encodePayload()
        let table = u32(payload, 0)
        for soffset in [Int32(table + 1), Int32(-payload.count), Int32.max, Int32.min, Int32(table - payload.count)] {
            expectWireError(patch(payload, at: table, soffset), as: .containsRequest)
        }
        // A vtable whose own size or table size runs past the end, or is odd or too small.
        let vtable = table - Int(payload.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: table, as: Int32.self) })
        for size in [UInt16(0), 2, 5, 0xFFFE] { expectWireError(patch(payload, at: vtable, size), as: .containsRequest) }
        expectWireError(patch(payload, at: vtable + 2, UInt16(0xFFFF)), as: .containsRequest)
        // A field offset outside its table.
        expectWireError(patch(payload, at: vtable + 4, UInt16(0xFFF0)), as: .containsRequest)
    }

    @Test func stringLengthPastTheEndIsRejected() {
        let payload = ArrowRequest.contains(id: arrowID(1)).encodePayload()
        let string = payload.count - 28  // u32 length, 20 bytes, NUL, 3 padding
        #expect(u32(payload, string) == 20)
        for length in [UInt32(21), UInt32(payload.count), 0xFFFF_FFFF, 0x7FFF_FFFF] {
            expectWireError(patch(payload, at: string, length), as: .containsRequest)
        }
        // A string with its NUL terminator overwritten.
        expectWireError(patch(payload, at: string + 24, UInt8(0x41)), as: .containsRequest)
    }

    @Test func hugeVectorLengthsAreRejectedBeforeAllocating() {
        let payload = ArrowRequest.get(ids: [arrowID(1)], timeoutMs: -1).encodePayload()
        // Find the vector: the root table's field 0 is the only uoffset pointing at a count of 1.
        let vector = try! payload.withUnsafeBytes { raw -> Int in
            let table = try FlatBufferReader(raw).root()
            return try table.vector(0, elementSize: 4, limit: 10)!.count == 1 ? try field0Target(raw) : -1
        }
        #expect(u32(payload, vector) == 1)
        #expect(throws: WireError.tooManyItems(count: 0xFFFF_FFFF, limit: WireLimits().maxItems)) {
            _ = try decodeRequest(.getRequest, patch(payload, at: vector, UInt32.max))
        }
        // Within the item limit but more elements than the buffer has bytes for.
        expectWireError(patch(payload, at: vector, UInt32(1000)), as: .getRequest)
        expectWireError(payload, as: .getRequest, limits: WireLimits(maxPayload: 1 << 20, maxItems: 0))
    }

    @Test func objectIDsMustBeTwentyBytes() {
        for length in [0, 19, 21, 40] {
            var builder = FlatBufferBuilder()
            let bad = builder.createString([UInt8](repeating: 7, count: length))
            builder.startTable()
            builder.add(field: 0, bad)
            let payload = builder.finish(root: builder.endTable())
            #expect(throws: WireError.invalidValue("object id of \(length) bytes (must be 20)")) {
                _ = try decodeRequest(.containsRequest, payload)
            }
            expectWireError(payload, as: .sealReply, reply: true)
        }
        // Inside a list of ids too.
        var builder = FlatBufferBuilder()
        let good = builder.createString(arrowID(1).bytes)
        let bad = builder.createString([UInt8](repeating: 1, count: 19))
        let list = builder.createVector(offsets: [good, bad])
        builder.startTable()
        builder.add(field: 0, list)
        expectWireError(builder.finish(root: builder.endTable()), as: .getRequest)
        // A missing id is as bad as a short one.
        expectWireError(ArrowRequest.connect.encodePayload(), as: .containsRequest)
    }

    @Test func digestsMustBeEightBytes() {
        let short: [UInt8] = [1, 2, 3, 4, 5, 6, 7]
        #expect(throws: WireError.invalidValue("digest of 7 bytes (must be 8)")) {
            _ = try decodeRequest(.sealRequest, ArrowRequest.seal(id: arrowID(1), digest: short).encodePayload())
        }
        expectWireError(
            ArrowRequest.createAndSeal(id: arrowID(1), evictIfFull: true, data: [1], metadata: [], digest: short + [8, 9])
                .encodePayload(), as: .createAndSealRequest)
        expectWireError(
            ArrowRequest.createAndSealBatch(ids: [arrowID(1)], evictIfFull: true, data: [[]], metadata: [[]],
                                            digests: [short]).encodePayload(), as: .createAndSealBatchRequest)
        // A seal without a digest at all.
        expectWireError(ArrowRequest.contains(id: arrowID(1)).encodePayload(), as: .sealRequest)
    }

    @Test func inconsistentListsAreRejected() {
        expectWireError(
            ArrowRequest.createAndSealBatch(ids: [arrowID(1), arrowID(2)], evictIfFull: true, data: [[]],
                                            metadata: [[], []], digests: [digestA, digestB]).encodePayload(),
            as: .createAndSealBatchRequest)
        // A batch whose data entries all point at one string: rejected before the copies add up.
        var shared = FlatBufferBuilder()
        let big = shared.createString([UInt8](repeating: 0xAB, count: 4096))
        let bigList = shared.createVector(offsets: [FlatBufferBuilder.Offset](repeating: big, count: 64))
        shared.startTable()
        shared.add(field: 2, bigList)
        let sharedPayload = shared.finish(root: shared.endTable())
        let error = #expect(throws: WireError.self) { _ = try decodeRequest(.createAndSealBatchRequest, sharedPayload) }
        #expect(error?.description.contains("add up to more than") == true)
        // DeleteRequest whose count disagrees with its ids.
        var builder = FlatBufferBuilder()
        let ids = builder.createIDVectorForTest([arrowID(1)])
        builder.startTable()
        builder.add(field: 1, ids)
        builder.add(field: 0, Int32(2))
        expectWireError(builder.finish(root: builder.endTable()), as: .deleteRequest)
        // GetReply whose specs or fds disagree in length.
        expectWireError(ArrowReply.get(ids: [arrowID(1)], specs: [], storeFds: [], mmapSizes: []).encodePayload(),
                        as: .getReply, reply: true)
        expectWireError(ArrowReply.get(ids: [], specs: [], storeFds: [4], mmapSizes: []).encodePayload(),
                        as: .getReply, reply: true)
        // An error code the client doesn't know.
        var errors = FlatBufferBuilder()
        errors.startTable()
        errors.add(field: 0, Int32(6))
        expectWireError(errors.finish(root: errors.endTable()), as: .createAndSealReply, reply: true)
    }

    @Test func unknownAndWrongDirectionTypesAreRejected() {
        let empty = ArrowRequest.connect.encodePayload()
        for type: Int64 in [0, 12, 24, 25, 26, 27, 36, 99, -1, 1 << 40] {
            #expect(throws: WireError.self) { _ = try ArrowRequest.decode(type: type, payload: empty) }
            #expect(throws: WireError.self) { _ = try ArrowReply.decode(type: type, payload: empty) }
        }
        #expect(throws: WireError.unknownMessageType(24)) { _ = try ArrowRequest.decode(type: 24, payload: empty) }
        #expect(throws: WireError.invalidValue("unknown Arrow message type -1")) {
            _ = try ArrowRequest.decode(type: -1, payload: empty)
        }
        // A reply type sent as a request and the other way round.
        #expect(throws: WireError.unknownMessageType(20)) { _ = try ArrowRequest.decode(type: 20, payload: empty) }
        #expect(throws: WireError.unknownMessageType(19)) { _ = try ArrowReply.decode(type: 19, payload: empty) }
    }

    @Test func headerClaimingTwoToTheFortyBytesIsRejected() throws {
        let huge = header(1, 1 << 40)
        #expect(throws: WireError.frameTooLarge(length: 1 << 40, limit: 64 << 20)) {
            _ = try ArrowFrameHeader.decode(huge, maxPayload: 64 << 20)
        }
        #expect(throws: WireError.frameTooLarge(length: 1 << 40, limit: WireLimits().maxPayload)) {
            _ = try ArrowRequest.decode(frame: huge)
        }
        #expect(throws: WireError.self) { _ = try ArrowFrameHeader.decode(header(1, -1), maxPayload: 64 << 20) }
        // Version must be 0.
        #expect(throws: WireError.self) {
            _ = try ArrowFrameHeader.decode(patch(header(19, 12), at: 0, Int64(20)), maxPayload: 64 << 20)
        }
        // Fewer than 24 bytes: not yet a header.
        #expect(try ArrowFrameHeader.decode(Array(header(19, 12).prefix(23)), maxPayload: 64) == nil)
        // Notification size prefix.
        #expect(throws: WireError.self) {
            _ = try ArrowNotification.decode(message: patch([UInt8](repeating: 0, count: 8), at: 0, Int64(1 << 40)))
        }
    }

    @Test func frameLengthMustMatchPayload() {
        let frame = ArrowRequest.list.encode()
        #expect(throws: WireError.truncated(needed: 12, available: 11)) {
            _ = try ArrowRequest.decode(frame: Array(frame.dropLast()))
        }
        #expect(throws: WireError.trailingBytes(1)) { _ = try ArrowRequest.decode(frame: frame + [0]) }
    }

    @Test func nestingDepthIsLimited() throws {
        let payload = ArrowReply.list([ArrowObjectInfo(objectID: arrowID(1), digest: digestA)]).encodePayload()
        try payload.withUnsafeBytes { raw in
            let shallow = try FlatBufferReader(raw, maxDepth: 1).root()
            let vector = try #require(try shallow.vector(0, elementSize: 4, limit: 10))
            #expect(throws: WireError.self) { _ = try vector.table(at: 0) }
            let deep = try FlatBufferReader(raw, maxDepth: 2).root()
            #expect(throws: Never.self) { _ = try deep.vector(0, elementSize: 4, limit: 10)!.table(at: 0) }
        }
    }

    // MARK: Builder details

    @Test func builderSharesIdenticalVtables() {
        let two = ArrowNotification([
            .sealed(id: arrowID(1), dataSize: 5, metadataSize: 2, digest: digestA),
            .sealed(id: arrowID(2), dataSize: 6, metadataSize: 3, digest: digestB),
        ]).encodePayload()
        let one = ArrowNotification([.sealed(id: arrowID(1), dataSize: 5, metadataSize: 2, digest: digestA)])
            .encodePayload()
        // The second entry adds its table (32 bytes incl. padding), strings (28 + 16) and a vector slot,
        // but no second 18-byte vtable.
        #expect(two.count - one.count < 32 + 28 + 16 + 4 + 18)
    }

    // MARK: Random mutation

    @Test func twentyThousandRandomMutationsNeverCrash() {
        var generator = SeededRandom(seed: 0x5EED_A770_0011)
        var frames: [(kind: Int, bytes: [UInt8])] = sampleRequests.map { (0, $0.encode()) }
        frames += sampleReplies.map { (1, $0.encode()) }
        frames += sampleNotifications.map { (2, $0.encode()) }
        frames += capturedRequests.map { (0, header($0.0.type.rawValue, hex($0.0.payload).count) + hex($0.0.payload)) }
        frames += capturedReplies.map { (1, header($0.0.type.rawValue, hex($0.0.payload).count) + hex($0.0.payload)) }
        let limits = WireLimits(maxPayload: 1 << 20, maxItems: 1 << 12)
        var decoded = 0
        var rejected = 0
        for _ in 0..<20_000 {
            let (kind, original) = frames[Int.random(in: 0..<frames.count, using: &generator)]
            var bytes = original
            let start = kind == 2 ? 8 : ArrowFrameHeader.size
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let body = max(bytes.count - start, 1)
                let at = start + Int.random(in: 0..<body, using: &generator)
                switch Int.random(in: 0..<6, using: &generator) {
                case 0:  // flip a byte
                    if at < bytes.count { bytes[at] ^= UInt8.random(in: 1...255, using: &generator) }
                case 1:  // an extreme or small u32 (offsets, lengths, counts)
                    if at + 4 <= bytes.count {
                        let values: [UInt32] = [0, 1, 3, 4, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFC,
                                                UInt32(bytes.count), UInt32.random(in: 0...256, using: &generator)]
                        bytes = patch(bytes, at: at, values.randomElement(using: &generator)!)
                    }
                case 2:  // an extreme u16 (vtable entries)
                    if at + 2 <= bytes.count {
                        bytes = patch(bytes, at: at, [UInt16(0), 1, 2, 3, 0xFFFF, 0x8000, 40].randomElement(using: &generator)!)
                    }
                case 3:  // truncate the payload (and fix the header, so the payload decoder sees it)
                    bytes = Array(bytes.prefix(Int.random(in: start...bytes.count, using: &generator)))
                case 4:  // append garbage
                    bytes += (0..<Int.random(in: 1...16, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                default:  // change the message type
                    if kind != 2 { bytes = patch(bytes, at: 8, Int64.random(in: -1...40, using: &generator)) }
                }
            }
            if kind == 2 {
                bytes = patch(bytes, at: 0, Int64(bytes.count - 8))
            } else {
                bytes = patch(bytes, at: 16, Int64(bytes.count - ArrowFrameHeader.size))
            }
            do {
                switch kind {
                case 0: _ = try ArrowRequest.decode(frame: bytes, limits: limits)
                case 1: _ = try ArrowReply.decode(frame: bytes, limits: limits)
                default: _ = try ArrowNotification.decode(message: bytes, limits: limits)
                }
                decoded += 1
            } catch {
                rejected += 1
            }
        }
        #expect(decoded + rejected == 20_000)
        #expect(decoded > 0 && rejected > 0)
    }
}

/// Where the uoffset in field 0 of the root table points.
private func field0Target(_ raw: UnsafeRawBufferPointer) throws(WireError) -> Int {
    let table = Int(raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
    let vtable = table - Int(raw.loadUnaligned(fromByteOffset: table, as: Int32.self))
    let field = table + Int(raw.loadUnaligned(fromByteOffset: vtable + 4, as: UInt16.self))
    return field + Int(raw.loadUnaligned(fromByteOffset: field, as: UInt32.self))
}

extension FlatBufferBuilder {
    fileprivate mutating func createIDVectorForTest(_ ids: [ObjectID]) -> Offset {
        let strings = ids.map { createString($0.bytes) }
        return createVector(offsets: strings)
    }
}
