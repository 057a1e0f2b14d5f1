import DequeModule

/// The events every Arrow subscriber is told (seals and deletions), kept once for all of them.
///
/// Arrow's subscribers all hear every event. Queued per subscriber, one seal cost a queue append (and
/// a table lookup for its digest) per subscriber: with 33 subscribers that never read, a batch of
/// 1,000 creates held the loop 12–15 ms (issue 13, `plasma-bench hostile`). Here a seal is appended
/// once, and each subscriber keeps only its read position (`ArrowNotifier.cursor`), a sequence number
/// into this log; the server hands the new entries to the subscribers once per loop pass
/// (StoreServer+Arrow.swift), and drops the chunks every subscriber has read.
///
/// Entries are numbered from 0 for the life of the store. The first chunk starts at `startSequence`
/// and every chunk but the last is full, so an entry's chunk is found by division.
final class ArrowEventLog {
    typealias Entry = ArrowNotifier.Pending

    /// Entries per chunk: memory is taken and given back a chunk (48 KiB) at a time.
    let chunkEntries: Int
    private var chunks = Deque<[Entry]>()
    /// The sequence number of the first entry held.
    private(set) var startSequence: UInt64 = 0
    /// The sequence number the next entry gets: entries `startSequence..<endSequence` are held.
    private(set) var endSequence: UInt64 = 0

    init(chunkEntries: Int = ArrowNotifier.chunkEntries) {
        precondition(chunkEntries > 0)
        self.chunkEntries = chunkEntries
    }

    /// Entries held.
    var count: Int { Int(endSequence - startSequence) }

    /// Chunks held.
    var chunkCount: Int { chunks.count }

    func append(_ entry: Entry) {
        // Not reserved whole, as in ChunkedQueue: a chunk grows by doubling up to its size.
        if chunks.isEmpty || chunks[chunks.count - 1].count == chunkEntries { chunks.append([]) }
        chunks[chunks.count - 1].append(entry)
        endSequence += 1
    }

    /// The entry numbered `sequence`, which must be held.
    subscript(sequence: UInt64) -> Entry {
        precondition(sequence >= startSequence && sequence < endSequence, "an entry the log no longer (or not yet) holds")
        let offset = Int(sequence - startSequence)
        return chunks[offset / chunkEntries][offset % chunkEntries]
    }

    /// Drops the whole chunks before `sequence`: no subscriber will read them (`sequence` is the least
    /// read position). Everything goes when `sequence` is `endSequence`.
    func discard(before sequence: UInt64) {
        let sequence = min(sequence, endSequence)
        guard sequence > startSequence else { return }
        if sequence == endSequence {
            chunks.removeAll()
            startSequence = endSequence
            return
        }
        while sequence - startSequence >= UInt64(chunkEntries) {
            chunks.removeFirst()
            startSequence += UInt64(chunkEntries)
        }
    }
}
