import PlasmaCore
import PlasmaPosix

extension ServerConfiguration {
    /// The arena options `Arena.init` gets: without the prefault when population happens in the
    /// background instead.
    var arenaOptionsAtStart: Arena.Options {
        var options = arena
        if arena.prefault && populateInBackground { options.prefault = false }
        return options
    }

    /// Whether the store populates its arena after it starts serving.
    var populatesInBackground: Bool { arena.prefault && populateInBackground }
}

/// Serving at once: the arena is populated by a background thread (ArenaPopulation) while the loop
/// already answers. The allocator is told how far population has got after every chunk, so that it
/// places new objects in populated memory when it can (`Allocator.setPopulated`); once population
/// ends it allocates exactly as before.
extension StoreServer {
    /// Starts population if the configuration asks for it in the background. A thread that can't start
    /// leaves the pages to be faulted in as they are used, with a warning: serving matters more.
    func startPopulation() {
        guard configuration.populatesInBackground, population == nil else { return }
        do {
            let progress = try EventFD()
            do {
                let thread = try ArenaPopulation(arena: arena, progress: progress)
                population = (thread, progress)
                allocator.setPopulated(bytes: 0)
                try loop.register(progress.rawValue, interest: .readable) { [unowned self] _ in populationProgressed() }
            } catch {
                population?.thread.stop()
                population = nil
                allocator.setPopulated(bytes: arena.size)
                progress.close()
                throw error
            }
        } catch {
            logger.warning("cannot populate the arena in the background (\(error)); its pages are faulted in as they are first used")
        }
    }

    /// After each chunk: move the allocator's boundary; at the end, say how it went.
    func populationProgressed() {
        guard let (thread, progress) = population else { return }
        progress.drain()
        let finished = thread.isFinished
        allocator.setPopulated(bytes: finished ? arena.size : thread.populatedBytes)
        guard finished else { return }
        loop.unregister(progress.rawValue)
        let populated = ByteCount.format(thread.populatedBytes)
        if let failure = thread.failure {
            logger.warning("arena population stopped after \(populated) of \(ByteCount.format(thread.size)): \(SystemError(operation: "madvise(MADV_POPULATE_WRITE)", errno: failure)); the rest is faulted in as it is first used")
            announceStatus("serving \(ByteCount.format(configuration.capacity)) on \(configuration.socketPath); arena population stopped at \(populated)")
        } else {
            let seconds = Double(thread.elapsed.components.seconds) + Double(thread.elapsed.components.attoseconds) / 1e18
            let rate = seconds > 0 ? ", \((Double(thread.size) / seconds / 1e7).rounded() / 100) GB/s" : ""
            logger.info("arena populated in the background: \(populated) in \((seconds * 100).rounded() / 100) s\(rate)")
            announceStatus("serving \(ByteCount.format(configuration.capacity)) on \(configuration.socketPath); arena populated")
        }
    }

    /// Stops the thread before the arena can go away; called at shutdown.
    func stopPopulation() {
        guard let (thread, progress) = population else { return }
        thread.stop()
        loop.unregister(progress.rawValue)  // nothing if it ended before
        progress.close()
        population = nil
    }

    /// `stats` field `arena_populated_bytes`.
    func fillPopulationStatistics(_ statistics: inout StoreStatistics) {
        let populated: Int
        if let population {
            populated = population.thread.isFinished && population.thread.failure == nil ? arena.size : population.thread.populatedBytes
        } else {
            populated = arena.prefaultDuration != nil ? arena.size : 0
        }
        statistics.arenaPopulatedBytes = Int64(populated)
    }
}
