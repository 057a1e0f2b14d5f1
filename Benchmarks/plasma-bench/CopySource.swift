import Synchronization

/// The private memory put-large copies from: one buffer per size, allocated and touched once, before any
/// timing. (Allocating it inside the timed run made every repetition pay a page fault per 4 KiB of the
/// source: 262,144 faults per GiB, a fifth of put-large-1g's time.)
enum CopySource {
    private static let buffers = Mutex<[Int: UnsafeMutableRawBufferPointer]>([:])

    /// The buffer of `size` bytes, each 3; the first call for a size allocates and fills it.
    static func buffer(_ size: Int) -> UnsafeRawBufferPointer {
        buffers.withLock { buffers in
            if let buffer = buffers[size] { return UnsafeRawBufferPointer(buffer) }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
            buffer.initializeMemory(as: UInt8.self, repeating: 3)
            buffers[size] = buffer
            return UnsafeRawBufferPointer(buffer)
        }
    }
}
