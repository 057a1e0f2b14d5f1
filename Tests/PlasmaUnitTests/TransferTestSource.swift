import Foundation
import PlasmaClusterCore
import PlasmaCore
import PlasmaPosix

/// A ``TransferObjectSource`` backed by a real memfd arena, as the store's is: objects are laid out one
/// after another (64-byte aligned) and every pin and unpin is counted, so that a test can check that
/// each pin was released.
final class ArenaObjectSource: TransferObjectSource, @unchecked Sendable {
    // @unchecked: `objects`, `pins` and `unpins` are only touched under `condition`.
    let arena: Arena
    private let condition = NSCondition()
    private var objects: [ObjectID: (offset: Int, dataSize: Int, metadataSize: Int)] = [:]
    private var nextOffset = 0
    private var pins = 0
    private var unpins = 0

    init(size: Int) throws {
        arena = try Arena(size: size, options: .init(prefault: true))
    }

    /// Writes `bytes` (data, then `metadataSize` bytes of metadata) into the arena as a sealed object.
    func add(_ id: ObjectID, bytes: UnsafeRawBufferPointer, metadataSize: Int) {
        condition.lock()
        defer { condition.unlock() }
        let offset = nextOffset
        precondition(offset + bytes.count <= arena.size, "the test arena is too small")
        UnsafeMutableRawBufferPointer(start: arena.base + offset, count: bytes.count).copyMemory(from: bytes)
        objects[id] = (offset, bytes.count - metadataSize, metadataSize)
        nextOffset = (offset + bytes.count + 63) / 64 * 64
    }

    /// Registers `id` with sizes whose block runs past the arena's end after its first `inside` bytes:
    /// `sendfile` sends those, then finds the end of the memfd, as it would if the store handed out a
    /// wrong block. The server must abort the pull there and still unpin.
    func addRunningPastTheEnd(_ id: ObjectID, inside: Int, total: Int) {
        condition.lock()
        defer { condition.unlock() }
        objects[id] = (arena.size - inside, total, 0)
    }

    func pin(_ id: ObjectID) -> PinnedObject? {
        condition.lock()
        defer { condition.unlock() }
        guard let object = objects[id] else { return nil }
        pins += 1
        condition.broadcast()
        return PinnedObject(
            id: id, arenaDescriptor: arena.descriptor, offset: object.offset, dataSize: object.dataSize,
            metadataSize: object.metadataSize,
            bytes: UnsafeRawBufferPointer(start: arena.base + object.offset, count: min(object.dataSize + object.metadataSize, arena.size - object.offset)))
    }

    func unpin(_ object: PinnedObject) {
        condition.lock()
        defer { condition.unlock() }
        unpins += 1
        condition.broadcast()
    }

    /// (pins, unpins) so far.
    var counts: (pins: Int, unpins: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (pins, unpins)
    }

    /// Waits (at most `seconds`, a bound far above what it takes) until `ready` holds for the counts.
    func wait(seconds: Double = 60, until ready: (_ pins: Int, _ unpins: Int) -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        defer { condition.unlock() }
        while !ready(pins, unpins) {
            if !condition.wait(until: deadline) { return ready(pins, unpins) }
        }
        return true
    }
}
