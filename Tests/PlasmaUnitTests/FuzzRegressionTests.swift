import Glibc
import PlasmaCore
@testable import PlasmaEngine
@testable import PlasmaStore
import PlasmaWire
import Testing

/// Regressions found by the libFuzzer harnesses in Fuzz/ (see Fuzz/README.md), and the committed seed
/// corpora replayed through the decoders.
///
/// A bug that is not fixed yet stays wrapped in `withKnownIssue`: the suite stays green, and the test
/// starts failing ("known issue was not recorded") the day the bug is fixed, as a reminder to unwrap it.
/// A crash runs in an exit test (a child process), so that it fails the test instead of the test run.
@Suite struct FuzzRegressionTests {
    // MARK: EngineCommands: a get that reuses the request id of a waiting get

    // Fuzz/corpus/EngineCommands/seal-after-disconnect (21 bytes, EngineCommands program):
    //   07 01 01 00 01 00   client A (slot 1): get [id 0], timeout -1, request id 1       -> waits
    //   07 01 00 00 80      client A: get [], timeout 0, *reused* request id 1            -> answered at once
    //   01 01               disconnect A
    //   05 00 00 01 04 00 00 00   client B (slot 0): create-and-seal id 0 (4 bytes)       -> store traps
    //
    // Cause: `StoreEngine.get` (StoreEngine+Get.swift) checks `refuseToWait` (which refuses a request id
    // that is already waiting) only when the new get will itself wait. A get that is answered at once
    // goes through `replyToGet`, which removes the request id from `ClientRecord.waitingGets`, although
    // the *earlier* get with that id is still in `waitingGets` (the WaitTable). From then on the client
    // record no longer knows about that wait, so `disconnect` doesn't remove it, and when the object is
    // sealed `markSealed` resolves it and calls `addReferences(_:at:for:)` for the departed client, whose
    // `clients[client]!` traps (StoreEngine+Get.swift, `addReferences`). Any client can crash the store
    // this way with three requests and a disconnect; the object's seal can come from anyone.
    @Test func sealAfterDisconnectOfAClientWhoseWaitingGetIDWasReusedDoesNotCrash() async {
        await #expect(processExitsWith: .success) {
            let harness = EngineHarness(capacity: 64 * 1024)
            let a = harness.connect()
            let b = harness.connect()
            #expect(harness.get([testID(0)], timeout: -1, from: a, requestID: 1) == nil)
            // Answered at once: refused, because request id 1 is still waiting.
            #expect(harness.get([], timeout: 0, from: a, requestID: 1)?.status == .invalidRequest)
            harness.engine.disconnect(a)
            harness.createAndSeal(testID(0), data: [1, 2, 3, 4], from: b)  // trapped before the fix
            harness.expectConsistent()
        }
    }

    // Fuzz/corpus/EngineCommands/reply-to-disconnected-client (13 bytes; what the fuzzer found first):
    //   07 05 01 00 02 00   client A (slot 1): get [id 0], timeout 1 ms, request id 1      -> waits
    //   07 01 00 00 e8      client A: get [], timeout 0, reused request id 1               -> answered at once
    //   01 01               disconnect A;  then the harness fires every deadline
    // Same cause as above: the stale wait survives the disconnect, and its deadline answers a client
    // that is gone (the server drops it, but the engine's books are wrong).
    @Test func noReplyReachesAClientAfterItDisconnected() {
        let harness = EngineHarness(capacity: 64 * 1024)
        let a = harness.connect()
        #expect(harness.get([testID(0)], timeout: 1, from: a, requestID: 1) == nil)
        #expect(harness.get([], timeout: 0, from: a, requestID: 1) != nil)  // answered at once (refused)
        let afterDisconnect = harness.repliesDuring {
            harness.engine.disconnect(a)
            harness.clock.advance(milliseconds: 5)
            harness.engine.fireDeadlines()
        }
        #expect(afterDisconnect.isEmpty, "replies to a disconnected client: \(afterDisconnect)")
        #expect(harness.statistics.pendingGets == 0)
    }

    // Same cause, seen from the limits: the client record forgets waits, so `maxWaitingGetsPerClient` can
    // be bypassed by answering a reused id at once after each waiting get.
    @Test func waitingGetLimitCannotBeBypassedByReusingRequestIDs() {
        let harness = EngineHarness(capacity: 64 * 1024) { $0.maxWaitingGetsPerClient = 2 }
        let a = harness.connect()
        for requestID: UInt64 in 1...4 {
            _ = harness.get([testID(UInt8(requestID))], timeout: -1, from: a, requestID: requestID)
            _ = harness.get([], timeout: 0, from: a, requestID: requestID)
        }
        #expect(harness.statistics.pendingGets == 2)
    }

    // MARK: Decoders: every committed seed and crash input, and every one-byte change of it

    /// Fuzz/corpus/<harness> (and Fuzz/crashes/<harness>) of this checkout, found from this file's path.
    private static func fuzzFiles(_ harness: String) -> [[UInt8]] {
        // <root>/Tests/PlasmaUnitTests/FuzzRegressionTests.swift -> <root>
        let root = #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/")
        var files: [[UInt8]] = []
        for directory in ["\(root)/Fuzz/corpus/\(harness)", "\(root)/Fuzz/crashes/\(harness)"] {
            guard let listing = opendir(directory) else { continue }
            defer { closedir(listing) }
            while let entry = readdir(listing) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                guard !name.hasPrefix(".") else { continue }
                guard let file = fopen("\(directory)/\(name)", "rb") else { continue }
                var bytes: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = fread(&buffer, 1, buffer.count, file)
                    if count <= 0 { break }
                    bytes += buffer[0..<count]
                }
                fclose(file)
                files.append(bytes)
            }
        }
        return files
    }

    /// The input, then each byte in turn replaced by 0x00, 0xFF and itself + 1 (a cheap, deterministic
    /// slice of what the fuzzer does).
    private static func variants(of input: [UInt8], _ body: ([UInt8]) -> Void) {
        body(input)
        var copy = input
        for index in copy.indices {
            let original = copy[index]
            for replacement in [0x00, 0xFF, original &+ 1] where replacement != original {
                copy[index] = replacement
                body(copy)
            }
            copy[index] = original
        }
    }

    /// What the NativeDecoder harness does with a frame, minus the round-trip checks: decoding only.
    private static func decodeNative(_ input: [UInt8]) {
        input.withUnsafeBytes { raw in
            guard let header = try? FrameHeader.decode(raw, maxPayload: 1 << 20) else { return }
            let end = min(raw.count, FrameHeader.size + header.payloadLength)
            let payload = UnsafeRawBufferPointer(rebasing: raw[FrameHeader.size..<end])
            _ = try? Request.decode(type: header.type, payload: payload, limits: WireLimits(maxPayload: 1 << 20, maxItems: 8))
            _ = try? Reply.decode(type: header.type, payload: payload)
            _ = try? ObjectEvent.decode(type: header.type, payload: payload)
        }
    }

    private static func decodeArrow(_ input: [UInt8]) {
        let limits = WireLimits(maxPayload: 1 << 20, maxItems: 8)
        _ = try? ArrowRequest.decode(frame: input, limits: limits)
        _ = try? ArrowReply.decode(frame: input, limits: limits)
        _ = try? ArrowNotification.decode(message: input, limits: limits)
        // The payload of a frame as a notification message (int64 size prefix, host order), and bare.
        guard input.count > ArrowFrameHeader.size else { return }
        let payload = Array(input[ArrowFrameHeader.size...])
        let prefix = withUnsafeBytes(of: Int64(payload.count)) { Array($0) }
        _ = try? ArrowNotification.decode(message: prefix + payload, limits: limits)
        _ = payload.withUnsafeBytes { try? ArrowNotification.decode(payload: $0, limits: limits) }
    }

    @Test func nativeSeedsAndTheirOneByteVariantsDecodeWithoutCrashing() {
        let seeds = Self.fuzzFiles("NativeDecoder")
        #expect(seeds.count >= 30, "committed NativeDecoder seeds not found")
        var decoded = 0
        for seed in seeds {
            // The unchanged seeds are real frames: most of them decode.
            if let header = try? seed.withUnsafeBytes({ try FrameHeader.decode($0, maxPayload: 1 << 20) }),
                seed.count == FrameHeader.size + header.payloadLength
            {
                let payload = Array(seed[FrameHeader.size...])
                let ok = payload.withUnsafeBytes { raw in
                    (try? Request.decode(type: header.type, payload: raw, limits: WireLimits())) != nil
                        || (try? Reply.decode(type: header.type, payload: raw)) != nil
                        || (try? ObjectEvent.decode(type: header.type, payload: raw)) != nil
                }
                if ok { decoded += 1 }
            }
            Self.variants(of: seed, Self.decodeNative)
        }
        #expect(decoded >= 30)
    }

    @Test func arrowSeedsAndTheirOneByteVariantsDecodeWithoutCrashing() {
        let seeds = Self.fuzzFiles("ArrowDecoder")
        #expect(seeds.count >= 30, "committed ArrowDecoder seeds not found")
        var decoded = 0
        for seed in seeds {
            let limits = WireLimits()
            if (try? ArrowRequest.decode(frame: seed, limits: limits)) != nil
                || (try? ArrowReply.decode(frame: seed, limits: limits)) != nil
                || (try? ArrowNotification.decode(message: seed, limits: limits)) != nil
            {
                decoded += 1
            }
            Self.variants(of: seed, Self.decodeArrow)
        }
        #expect(decoded >= 30)
    }
}
