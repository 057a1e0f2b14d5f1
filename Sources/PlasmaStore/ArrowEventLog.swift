/// The events every Arrow subscriber is told (seals and deletions), kept once for all of them.
///
/// Arrow's subscribers all hear every event. Queued per subscriber, one seal cost a queue append (and
/// a table lookup for its digest) per subscriber: with 33 subscribers that never read, a batch of
/// 1,000 creates held the loop 12–15 ms (issue 13, `plasma-bench hostile`). Here a seal is appended
/// once, and each subscriber keeps only its read position (`ArrowNotifier.cursor`), a sequence number
/// into this log; the server hands the new entries to the subscribers once per loop pass
/// (StoreServer+Arrow.swift), and drops the chunks every subscriber has read.
///
/// Entries are numbered from 0 for the life of the store; they are kept in a ``ChunkedQueue``.
final class ArrowEventLog {
    typealias Entry = ArrowNotifier.Pending

    /// The entries held, in chunks: memory is taken and given back a chunk (48 KiB) at a time.
    private var entries: ChunkedQueue<Entry>
    /// The sequence number of the first entry held.
    private(set) var startSequence: UInt64 = 0

    init(chunkEntries: Int = ArrowNotifier.chunkEntries) {
        entries = ChunkedQueue(chunkCapacity: chunkEntries)
    }

    /// The sequence number the next entry gets: entries `startSequence..<endSequence` are held.
    var endSequence: UInt64 { startSequence + UInt64(entries.count) }

    /// Entries held.
    var count: Int { entries.count }

    /// Chunks held.
    var chunkCount: Int { entries.chunkCount }

    func append(_ entry: Entry) { entries.append(entry) }

    /// The entry numbered `sequence`, which must be held.
    subscript(sequence: UInt64) -> Entry {
        precondition(sequence >= startSequence && sequence < endSequence, "an entry the log no longer (or not yet) holds")
        return entries[Int(sequence - startSequence)]
    }

    /// Drops the whole chunks before `sequence`: no subscriber will read them (`sequence` is the least
    /// read position). Everything goes when `sequence` is `endSequence`.
    func discard(before sequence: UInt64) {
        let sequence = min(sequence, endSequence)
        guard sequence > startSequence else { return }
        if sequence == endSequence {
            startSequence = endSequence
            entries.removeAll()
            return
        }
        startSequence += UInt64(entries.dropWholeChunks(within: Int(sequence - startSequence)))
    }
}
