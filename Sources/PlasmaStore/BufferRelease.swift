import Dispatch

/// Frees big buffers on a background thread instead of the loop's. Freeing a buffer of megabytes is
/// `munmap` of every page it touched: a closed connection's 64 MiB partial frame took 5–11 ms of the
/// loop thread, a pass every other client waited for.
final class BufferRelease: Sendable {
    /// The store's, shared by every connection.
    static let shared = BufferRelease()

    /// Buffers smaller than this (bytes of capacity) are freed where they are: glibc serves them from
    /// its heap at a cost of well under a microsecond, less than handing them over.
    let threshold: Int
    private let queue = DispatchQueue(label: "plasma-store.buffer-release", qos: .utility)

    init(threshold: Int = 1 << 20) {
        self.threshold = threshold
    }

    /// Takes a big `buffer`, leaving it empty, and frees it on the background thread; returns false
    /// (and leaves `buffer` as it is) when it is small.
    @discardableResult
    func release<Element>(_ buffer: inout [Element]) -> Bool {
        guard buffer.capacity * MemoryLayout<Element>.stride >= threshold else { return false }
        // The box holds the only reference to the storage, so the storage dies where the box empties.
        let box = Box<Element>()
        swap(&box.buffer, &buffer)
        queue.async { box.empty() }
        return true
    }

    /// Waits until every buffer handed over so far has been freed (tests).
    func drain() {
        queue.sync {}
    }
}

/// One buffer on its way to the background thread; touched by one thread at a time (the loop's, then
/// the queue's), which the queue's hand-over orders.
private final class Box<Element>: @unchecked Sendable {
    var buffer: [Element] = []

    func empty() {
        buffer = []
    }
}
