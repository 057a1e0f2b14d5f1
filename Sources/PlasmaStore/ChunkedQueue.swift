/// A first-in first-out queue kept in chunks of at most a fixed number of elements.
///
/// Appending never moves more than one chunk (a chunk grows by doubling up to its capacity), and memory
/// is given back a chunk at a time. A `Deque` doubles by copying everything it holds: the Arrow
/// subscribers' backlogs, all fed by the same seals, reached their doublings together, and 34 backlogs
/// of ~1M notifications copied in one batch's pass held the loop half a second (issue 13,
/// `plasma-bench hostile`).
struct ChunkedQueue<Element> {
    /// Elements per chunk.
    let chunkCapacity: Int
    private var chunks: [[Element]] = []
    /// Elements of `chunks[0]` already taken.
    private var head = 0
    /// Elements waiting.
    private(set) var count = 0

    init(chunkCapacity: Int) {
        precondition(chunkCapacity > 0)
        self.chunkCapacity = chunkCapacity
    }

    var isEmpty: Bool { count == 0 }

    /// Chunks held.
    var chunkCount: Int { chunks.count }

    mutating func append(_ element: Element) {
        // Not reserved whole: a queue that is emptied as fast as it fills (a subscriber that keeps up)
        // would allocate and free a full chunk per element.
        if chunks.isEmpty || chunks[chunks.count - 1].count == chunkCapacity { chunks.append([]) }
        chunks[chunks.count - 1].append(element)
        count += 1
    }

    mutating func append(contentsOf elements: some Sequence<Element>) {
        for element in elements { append(element) }
    }

    /// The element `offset` places after the first one waiting (0: what `popFirst` returns next). Every
    /// chunk but the last is full, so its chunk is found by division.
    subscript(offset: Int) -> Element {
        precondition(offset >= 0 && offset < count, "an element the queue doesn't hold")
        let position = head + offset
        return chunks[position / chunkCapacity][position % chunkCapacity]
    }

    /// Drops the first chunks whose waiting elements are all among the first `limit`; returns how many
    /// elements went (whole chunks only: a chunk is never split).
    mutating func dropWholeChunks(within limit: Int) -> Int {
        var dropped = 0
        while let first = chunks.first, first.count == chunkCapacity, dropped + chunkCapacity - head <= limit {
            dropped += chunkCapacity - head
            count -= chunkCapacity - head
            chunks.removeFirst()
            head = 0
        }
        return dropped
    }

    /// Drops everything, giving back every chunk.
    mutating func removeAll() {
        chunks = []
        head = 0
        count = 0
    }

    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = chunks[0][head]
        head += 1
        count -= 1
        // A chunk read to its end goes, unless it is the last and may still be appended to.
        if head == chunks[0].count, count == 0 || head == chunkCapacity {
            chunks.removeFirst()
            head = 0
        }
        return element
    }
}
