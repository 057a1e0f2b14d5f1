import PlasmaCore
import PlasmaTestSupport
import Testing

private let acceptedByteCounts: [(String, Int)] = [
    ("2G", 2 << 30),
    ("1.5G", 3 << 29),
    ("2GiB", 2 << 30),
    ("2gib", 2 << 30),
    ("512M", 512 << 20),
    ("512m", 512 << 20),
    ("1000000", 1_000_000),
    ("0", 0),
    ("1K", 1024),
    ("4KiB", 4096),
    ("1T", 1 << 40),
    ("1KB", 1000),
    ("1kb", 1000),
    ("3MB", 3_000_000),
    ("2GB", 2_000_000_000),
    ("1TB", 1_000_000_000_000),
    ("10B", 10),
    ("0.5K", 512),
    ("  2G  ", 2 << 30),
    ("\t512M\n", 512 << 20),
    ("2 G", 2 << 30),
]

@Suite struct ByteCountTests {
    @Test(arguments: acceptedByteCounts)
    func acceptedFormsParseToTheirByteCounts(text: String, bytes: Int) throws {
        #expect(try ByteCount.parse(text) == bytes)
    }

    @Test(arguments: ["", "   ", "G", "GiB", "2X", "-5", "-5G", "1.5", "1.5B", "1..5G", "2GG", "1e3", "0x10", "inf",
                      "nan", "two", "99999999999T"])
    func rejectedFormsThrowParseError(text: String) {
        #expect(throws: ByteCount.ParseError.self) { try ByteCount.parse(text) }
    }

    @Test func parseErrorNamesTheInputAndShowsTheAcceptedForms() throws {
        let error = try #require(throws: ByteCount.ParseError.self) { try ByteCount.parse("2X") }
        #expect(error.text == "2X")
        let message = error.description
        #expect(message.contains("'2X'"))
        for form in ["2G", "512M", "1.5G", "2GiB", "1000000"] {
            #expect(message.contains(form), "message should show \(form): \(message)")
        }
        #expect(try #require(throws: ByteCount.ParseError.self) { try ByteCount.parse("1.5") }.reason.contains("whole"))
    }

    @Test func formatPrintsAShortBinaryForm() {
        #expect(ByteCount.format(17) == "17 B")
        #expect(ByteCount.format(2 << 30) == "2.0 GiB")
        #expect(ByteCount.format(512 << 20) == "512.0 MiB")
        #expect(ByteCount.format(1536) == "1.5 KiB")
    }
}

@Suite struct ObjectIDTests {
    @Test func hexRoundTripsAndIsFortyLowercaseDigits() throws {
        var random = SeededRandom(seed: 20)
        for _ in 0..<100 {
            let id = ObjectID.random(using: &random)
            #expect(id.hex.count == 40)
            #expect(id.hex.allSatisfy { "0123456789abcdef".contains($0) })
            #expect(ObjectID(hex: id.hex) == id)
            #expect(ObjectID(hex: id.hex.uppercased()) == id, "either case parses")
            #expect(ObjectID(bytes: id.bytes) == id)
            #expect(id.description == id.hex)
        }
    }

    @Test func bytesAndHexAgreeInOrder() throws {
        let bytes = (0..<20).map { UInt8($0) }
        let id = try #require(ObjectID(bytes: bytes))
        #expect(id.bytes == bytes)
        #expect(id.hex == "000102030405060708090a0b0c0d0e0f10111213")
        #expect(ObjectID(hex: "000102030405060708090a0b0c0d0e0f10111213") == id)
        // Loading from a raw buffer at an unaligned offset reads the same 20 bytes.
        let padded: [UInt8] = [0xAA] + bytes + [0xBB]
        #expect(padded.withUnsafeBytes { ObjectID(loadingFrom: $0, at: 1) } == id)
        var stored = [UInt8](repeating: 0, count: 20)
        stored.withUnsafeMutableBytes { id.store(to: $0.baseAddress!) }
        #expect(stored == bytes)
    }

    @Test(arguments: [
        "", "00", String(repeating: "0", count: 39), String(repeating: "0", count: 41),
        String(repeating: "0", count: 38) + "0g", " " + String(repeating: "0", count: 39),
        String(repeating: "é", count: 20), String(repeating: "0", count: 38) + "-1",
    ])
    func badHexIsRejected(text: String) {
        #expect(ObjectID(hex: text) == nil)
    }

    @Test(arguments: [0, 1, 19, 21, 40])
    func bytesInitRequiresExactlyTwentyBytes(count: Int) {
        #expect(ObjectID(bytes: [UInt8](repeating: 7, count: count)) == nil)
        #expect(ObjectID(bytes: [UInt8](repeating: 7, count: 20)) != nil)
    }

    @Test func randomIDsDifferAndSeededOnesRepeat() {
        let ids = Set((0..<1000).map { _ in ObjectID.random() })
        #expect(ids.count == 1000)
        var first = SeededRandom(seed: 5)
        var second = SeededRandom(seed: 5)
        #expect(ObjectID.random(using: &first) == ObjectID.random(using: &second))
    }

    @Test func orderIsTheOrderOfTheBytes() throws {
        let low = try #require(ObjectID(bytes: [0x01] + [UInt8](repeating: 0xFF, count: 19)))
        let high = try #require(ObjectID(bytes: [0x02] + [UInt8](repeating: 0x00, count: 19)))
        #expect(low < high)
        #expect(!(high < low))
        var random = SeededRandom(seed: 9)
        let sample = (0..<200).map { _ in ObjectID.random(using: &random) }
        #expect(sample.sorted().map(\.bytes) == sample.map(\.bytes).sorted { $0.lexicographicallyPrecedes($1) })
    }
}
