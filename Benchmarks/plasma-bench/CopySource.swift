import PlasmaClient
import Synchronization

/// The private memory put-large copies from: one buffer per size, allocated and touched once, before any
/// timing. (Allocating it inside the timed run made every repetition pay a page fault per 4 KiB of the
/// source: 262,144 faults per GiB, a fifth of put-large-1g's time.)
enum CopySource {
    private static let buffers = Mutex<[Int: UnsafeMutableRawBufferPointer]>([:])
    private static let copySetting = Mutex(ParallelCopy.default)

    /// How put-large copies into objects (`--copy-threads`): the native client's `parallelCopy`, and
    /// the Arrow-dialect client's copy, so that `--compare-arrow` copies the same way into both stores.
    static var parallelCopy: ParallelCopy {
        get { copySetting.withLock { $0 } }
        set { copySetting.withLock { $0 = newValue } }
    }

    /// The threads of the N-thread copy limit: those of ``parallelCopy``, or the default count when
    /// that is one thread (a one-thread run still shows what several would reach); nil on one core.
    static var parallelLimitThreads: Int? {
        let threads = parallelCopy.threads > 1 ? parallelCopy.threads : ParallelCopy.defaultThreads
        return threads > 1 ? threads : nil
    }

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
