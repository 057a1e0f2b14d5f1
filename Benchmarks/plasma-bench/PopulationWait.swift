import Foundation
import PlasmaClient

/// A store populates its arena in the background after it starts answering (`stats`:
/// arena_populated_bytes). That thread takes a core and memory bandwidth, so a workload measured while it
/// runs measures the population too (put-large and get-large lost a third in one run): wait for it.
enum PopulationWait {
    /// Returns once the arena is populated, printing progress every few seconds. A store that reports
    /// nothing populated for 2 s (`--no-prefault`, or a build without the field) isn't waited for.
    static func untilPopulated(_ client: PlasmaClient, announce: (String) -> Void) throws {
        var statistics = try client.statistics()
        guard statistics.arenaPopulatedBytes < statistics.arenaSize else { return }
        let started = ContinuousClock.now
        var lastNote = started
        while statistics.arenaPopulatedBytes < statistics.arenaSize {
            let waited = ContinuousClock.now - started
            if statistics.arenaPopulatedBytes == 0, waited > .seconds(2) { return }
            if ContinuousClock.now - lastNote > .seconds(5) {
                lastNote = ContinuousClock.now
                announce("the store's arena populating (\(statistics.arenaPopulatedBytes >> 20) of \(statistics.arenaSize >> 20) MiB)")
            }
            usleep(50_000)
            statistics = try client.statistics()
        }
    }
}
