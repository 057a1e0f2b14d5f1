import Foundation
import PlasmaClient
import PlasmaTestSupport
import Testing

@Suite struct ObjectIDNameAndCodingTests {
    /// Expected values from Python: `hashlib.sha256(name.encode()).digest()[:20].hex()`.
    @Test(arguments: [
        ("weights/v3", "09ce030a2777c63d340257c5b5412dd257a17aad"),
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4"),
        ("naïve 名前", "fc9bd1fae49f9cce96e4b43902c101c57501e603"),
    ])
    func anIDFromANameIsTheFirst20BytesOfItsSHA256(name: String, hex: String) {
        #expect(ObjectID(name: name).hex == hex)
        #expect(ObjectID(name: Substring(name)) == ObjectID(name: name))
    }

    @Test func namesThatDifferGiveDifferentIDs() {
        let ids = Set((0..<10_000).map { ObjectID(name: "object-\($0)") })
        #expect(ids.count == 10_000)
    }

    @Test func codableRoundTripsAsTheHexString() throws {
        var random = SeededRandom(seed: 11)
        let ids = (0..<100).map { _ in ObjectID.random(using: &random) }
        let json = try JSONEncoder().encode(ids)
        #expect(try JSONDecoder().decode([ObjectID].self, from: json) == ids)
        let text = String(decoding: try JSONEncoder().encode(ids[0]), as: UTF8.self)
        #expect(text == "\"\(ids[0].hex)\"")
    }

    @Test(arguments: ["\"abc\"", "\"zz00000000000000000000000000000000000000\"", "12", "null"])
    func decodingSomethingElseThrowsDecodingError(json: String) {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ObjectID.self, from: Data(json.utf8)) }
    }

    @Test func hexRoundTripsInEitherCase() {
        var random = SeededRandom(seed: 12)
        for _ in 0..<1000 {
            let id = ObjectID.random(using: &random)
            #expect(ObjectID(hex: id.hex) == id)
            #expect(ObjectID(hex: id.hex.uppercased()) == id)
        }
    }
}
