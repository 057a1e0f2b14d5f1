import PlasmaCore
import PlasmaPosix
import PlasmaWire

/// The store's arena as this process sees it: read-write for objects it creates, read-only for objects
/// it gets, so that a stray write to a sealed object faults instead of corrupting it.
struct ArenaMapping: Sendable {
    let writable: SharedMemoryMapping
    let readable: SharedMemoryMapping

    init(descriptor: Int32, size: Int, prefault: Bool) throws(PlasmaClientError) {
        do {
            writable = try SharedMemoryMapping(descriptor: descriptor, size: size, writable: true, populate: prefault)
            readable = try SharedMemoryMapping(descriptor: descriptor, size: size, writable: false, populate: prefault)
        } catch {
            throw .protocolViolation("cannot map the arena of \(size) bytes: \(error)")
        }
    }

    /// The object's bytes in the read-write mapping; the store's offsets are checked, never trusted.
    func writableBytes(at offset: Int, dataSize: Int, metadataSize: Int, id: ObjectID) throws(PlasmaClientError)
        -> (data: UnsafeMutableRawBufferPointer, metadata: UnsafeMutableRawBufferPointer)
    {
        let base = try checked(offset, dataSize, metadataSize, id, writable)
        return (UnsafeMutableRawBufferPointer(start: base, count: dataSize),
                UnsafeMutableRawBufferPointer(start: base + dataSize, count: metadataSize))
    }

    /// The object's bytes in the read-only mapping.
    func readableBytes(_ location: ObjectLocation, id: ObjectID) throws(PlasmaClientError)
        -> (data: UnsafeRawBufferPointer, metadata: UnsafeRawBufferPointer)
    {
        let base = UnsafeRawPointer(
            try checked(location.offset, location.dataSize, location.metadataSize, id, readable))
        return (UnsafeRawBufferPointer(start: base, count: location.dataSize),
                UnsafeRawBufferPointer(start: base + location.dataSize, count: location.metadataSize))
    }

    /// Each size is checked on its own before they are added: a hostile store's sizes near `Int.max`
    /// (or negative) must give an error, not an overflow trap.
    private func checked(
        _ offset: Int, _ dataSize: Int, _ metadataSize: Int, _ id: ObjectID, _ mapping: SharedMemoryMapping
    ) throws(PlasmaClientError) -> UnsafeMutableRawPointer {
        guard offset >= 0, dataSize >= 0, metadataSize >= 0, offset <= mapping.size,
              dataSize <= mapping.size - offset, metadataSize <= mapping.size - offset - dataSize
        else {
            throw .protocolViolation(
                "object \(id) at \(offset)+\(dataSize)+\(metadataSize) lies outside the arena of \(mapping.size) bytes")
        }
        return mapping.base + offset
    }
}
