import Glibc

/// A failed system call on a file, reported as `doing: strerror`.
struct IOError: Error, CustomStringConvertible {
    let description: String
    init(_ doing: String, errno code: Int32 = errno) {
        description = "\(doing): \(String(cString: strerror(code)))"
    }
}

/// Writes every byte, retrying short writes and EINTR; `progress` gets the running total.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, chunk: Int = 4 << 20, progress: ((Int) -> Void)? = nil) throws(IOError) {
    guard let base = bytes.baseAddress else { return }
    var done = 0
    while done < bytes.count {
        let count = write(fd, base + done, min(chunk, bytes.count - done))
        if count < 0 {
            if errno == EINTR { continue }
            throw IOError("write")
        }
        done += count
        progress?(done)
    }
}

/// Reads until `buffer` is full or end of file; returns the bytes read.
func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, chunk: Int = 4 << 20, progress: ((Int) -> Void)? = nil) throws(IOError) -> Int {
    guard let base = buffer.baseAddress else { return 0 }
    var done = 0
    while done < buffer.count {
        let count = read(fd, base + done, min(chunk, buffer.count - done))
        if count < 0 {
            if errno == EINTR { continue }
            throw IOError("read")
        }
        if count == 0 { break }
        done += count
        progress?(done)
    }
    return done
}

/// A growable malloc'd buffer for input of unknown length (a pipe on stdin).
final class GrowingBuffer {
    private(set) var base: UnsafeMutableRawPointer?
    private(set) var count = 0
    private var capacity = 0

    /// Reads `fd` to its end.
    func readToEnd(_ fd: Int32, progress: ((Int) -> Void)? = nil) throws(IOError) {
        while true {
            if capacity - count < 64 << 10 {
                let newCapacity = max(1 << 20, capacity * 2)
                guard let grown = realloc(base, newCapacity) else { throw IOError("reading input", errno: ENOMEM) }
                base = grown
                capacity = newCapacity
            }
            let offset = count
            let read = try readFully(
                fd, into: UnsafeMutableRawBufferPointer(start: base! + offset, count: capacity - offset),
                progress: progress.map { report in { report(offset + $0) } })
            count += read
            if read == 0 || count < capacity { return }
        }
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    deinit { free(base) }
}
