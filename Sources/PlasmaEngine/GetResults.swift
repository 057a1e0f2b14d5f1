import PlasmaCore

/// One result per id a get asked for, in request order, nil until its object is found.
///
/// A get of few ids holds one array, as a plain `[ObjectLocation?]` would. A get of many ids holds a
/// chunk per `chunkLength` positions, made when the first result in it arrives: a hostile get of 65,536
/// ids that never exist used to zero 2 MiB of results on arrival, in pages new to the process, inside
/// the loop pass that decoded it (under `plasma-bench hostile` such arrivals came in passes of 7-15 ms,
/// with the ids' own 1.3 MB). The budget still charges every position (ClientStateBudget): that is
/// what a get whose objects all arrive holds. A big get that is answered builds its reply's array then (`all`): the
/// allocation moved from its arrival to its answer, and only a get never answered is spared it.
struct GetResults {
    static let chunkLength = 1_024

    let count: Int
    /// `count` ≤ `chunkLength`: every result.
    private var whole: [ObjectLocation?]
    /// Otherwise: chunk `c` holds positions `c * chunkLength ..<` the next chunk's, nil while none is found.
    private var chunks: [[ObjectLocation?]?]

    init(count: Int) {
        self.count = count
        if count <= Self.chunkLength {
            whole = [ObjectLocation?](repeating: nil, count: count)
            chunks = []
        } else {
            whole = []
            chunks = [[ObjectLocation?]?](repeating: nil, count: (count + Self.chunkLength - 1) / Self.chunkLength)
        }
    }

    subscript(position: Int) -> ObjectLocation? {
        get {
            if chunks.isEmpty { return whole[position] }
            let (chunk, offset) = position.quotientAndRemainder(dividingBy: Self.chunkLength)
            return chunks[chunk]?[offset]
        }
        set {
            if chunks.isEmpty { return whole[position] = newValue }
            let (chunk, offset) = position.quotientAndRemainder(dividingBy: Self.chunkLength)
            if chunks[chunk] == nil {
                guard newValue != nil else { return }
                chunks[chunk] = [ObjectLocation?](repeating: nil, count: length(ofChunk: chunk))
            }
            chunks[chunk]![offset] = newValue
        }
    }

    /// Every result in request order, for the reply.
    var all: [ObjectLocation?] {
        if chunks.isEmpty { return whole }
        var all: [ObjectLocation?] = []
        all.reserveCapacity(count)
        for (index, chunk) in chunks.enumerated() {
            if let chunk { all += chunk } else { all += repeatElement(nil, count: length(ofChunk: index)) }
        }
        return all
    }

    /// Positions holding a result, ascending.
    var foundPositions: [Int] {
        if chunks.isEmpty { return whole.indices.filter { whole[$0] != nil } }
        var positions: [Int] = []
        for (index, chunk) in chunks.enumerated() {
            guard let chunk else { continue }  // none found there
            for offset in chunk.indices where chunk[offset] != nil { positions.append(index * Self.chunkLength + offset) }
        }
        return positions
    }

    /// Chunks made so far (0 for a get of few ids, which holds one array).
    var chunksMade: Int { chunks.lazy.filter { $0 != nil }.count }

    private func length(ofChunk chunk: Int) -> Int { min(Self.chunkLength, count - chunk * Self.chunkLength) }
}
