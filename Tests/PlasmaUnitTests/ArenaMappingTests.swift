import PlasmaCore
import PlasmaPosix
import PlasmaWire
import Testing

@testable import PlasmaClient

/// The client never trusts the store's offsets and sizes: a location outside the arena, or sizes whose
/// sum overflows, is a `protocolViolation` error, not a trap or a pointer past the mapping.
@Suite struct ArenaMappingTests {
    static let size = 1 << 20

    func mapping() throws -> (Arena, ArenaMapping) {
        let arena = try Arena(size: Self.size, options: .init(prefault: false))
        return (arena, try ArenaMapping(descriptor: arena.descriptor, size: arena.size, prefault: false))
    }

    @Test func anObjectInsideTheArenaIsMapped() throws {
        let (arena, mapping) = try mapping()
        let bytes = try mapping.readableBytes(.init(offset: 4096, dataSize: 100, metadataSize: 28), id: ObjectID.random())
        #expect(bytes.data.count == 100 && bytes.metadata.count == 28)
        #expect(bytes.metadata.baseAddress == bytes.data.baseAddress! + 100)
        let last = try mapping.readableBytes(.init(offset: arena.size - 8, dataSize: 8, metadataSize: 0), id: .random())
        #expect(last.data.count == 8)
    }

    @Test(arguments: [
        (-1, 1, 0), (0, -1, 0), (0, 0, -1), (0, -8, 16),                  // negative parts
        (size, 1, 0), (size - 4, 4, 1), (size + 1, 0, 0), (0, size + 1, 0),  // past the end
        (0, Int.max, Int.max), (8, Int.max, 1), (0, 1, Int.max),              // sums that overflow
        (Int.max, 1, 1),
    ])
    func aLocationOutsideTheArenaIsAnError(offset: Int, dataSize: Int, metadataSize: Int) throws {
        let (_, mapping) = try mapping()
        let location = ObjectLocation(offset: offset, dataSize: dataSize, metadataSize: metadataSize)
        #expect(throws: PlasmaClientError.self) { try mapping.readableBytes(location, id: .random()) }
        #expect(throws: PlasmaClientError.self) {
            try mapping.writableBytes(at: offset, dataSize: dataSize, metadataSize: metadataSize, id: .random())
        }
    }
}
