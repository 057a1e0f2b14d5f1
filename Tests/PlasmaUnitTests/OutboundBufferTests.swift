import PlasmaPosix
@testable import PlasmaStore
import Testing

/// A frame encoded elsewhere (a list built in slices) is queued as a chunk of its own, never copied
/// behind pending bytes, and everything still goes out in the order it was queued.
@Suite struct OutboundBufferTests {
    func drain(_ buffer: inout OutboundBuffer) throws -> [UInt8] {
        let (reader, writer) = try UnixSocket.pair()
        defer { reader.close(); writer.close() }
        #expect(try buffer.flush(to: writer) == .done)
        var bytes = [UInt8](repeating: 0, count: 64)
        let count = try bytes.withUnsafeMutableBytes { try reader.read(into: $0) } ?? 0
        return Array(bytes[..<count])
    }

    @Test func framesQueuedWholeGoOutInOrderWithTheBytesAroundThem() throws {
        var buffer = OutboundBuffer()
        buffer.writer.buffer += [1, 2, 3]
        buffer.append(frame: [4, 5])
        #expect(buffer.writer.buffer.isEmpty, "the pending bytes moved to a chunk, not copied behind")
        buffer.writer.buffer += [6]
        buffer.append(frame: [7, 8, 9])
        buffer.writer.buffer += [10]
        #expect(buffer.pendingBytes == 10)
        #expect(buffer.heldBytes >= 10)
        #expect(try drain(&buffer) == Array(1...10))
        #expect(buffer.isEmpty && buffer.heldBytes == 0)

        buffer.append(frame: [11, 12])  // nothing pending
        buffer.writer.buffer += [13]
        #expect(try drain(&buffer) == [11, 12, 13])
    }
}
