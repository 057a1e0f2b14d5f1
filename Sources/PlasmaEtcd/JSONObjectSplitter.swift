#if Cluster
/// Cuts a byte stream of concatenated JSON objects (a watch's answer) into whole objects, whatever the
/// chunk boundaries. Tracks depth outside strings only; the objects' own syntax is left to the parser.
struct JSONObjectSplitter {
    private var buffer: [UInt8] = []
    private var scanned = 0
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var start: Int?
    /// Most bytes of one unfinished object: past it the stream is taken as broken, not buffered forever.
    let limit: Int

    init(limit: Int = 64 << 20) { self.limit = limit }

    /// Adds a chunk; returns the objects it completed.
    mutating func append(_ chunk: some Sequence<UInt8>) throws(EtcdError) -> [ArraySlice<UInt8>] {
        buffer.append(contentsOf: chunk)
        var objects: [ArraySlice<UInt8>] = []
        while scanned < buffer.count {
            let byte = buffer[scanned]
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: "{") {
                if depth == 0 { start = scanned }
                depth += 1
            } else if byte == UInt8(ascii: "}") {
                depth -= 1
                if depth == 0, let first = start {
                    objects.append(buffer[first...scanned])
                    start = nil
                }
                if depth < 0 { throw .malformedResponse("unbalanced '}' in a watch stream") }
            }
            scanned += 1
        }
        // Drop what was handed out (or whitespace between objects).
        let keep = start ?? scanned
        if keep > 0 {
            objects = objects.map { ArraySlice(Array($0)) }
            buffer.removeFirst(keep)
            scanned -= keep
            start = start.map { $0 - keep }
        }
        if buffer.count > limit { throw .malformedResponse("a watch message over \(limit) bytes") }
        return objects
    }
}
#endif
