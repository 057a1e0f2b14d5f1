import Foundation
import PlasmaClient
import PlasmaCore
import PlasmaPosix
import PlasmaToolSupport

/// `scale`: fills a store (its own, unless --socket) with N small objects (64 B, createAndSeal batches of 1000) and measures
/// (a) the store process's anonymous RSS (RssAnon: its heap, not the shared arena) before the first
/// object and after the last, divided by N: the per-object bookkeeping cost; (b) get+release latency of
/// random resident objects when 1000 objects exist and again when all N exist. The fill happens once per
/// invocation (RSS is one measurement); each latency figure is a warm-up of --scale-samples get+release
/// pairs followed by --repetitions runs of --scale-samples, timed one by one, reported as the median over
/// the repetitions of each run's p50 and p99.
enum ScaleBenchmark {
    static let firstStep = 1000

    /// Capacity of the store the benchmark starts for scale: room for twice the objects' bytes, at least 256 MiB.
    static func memory(objects: Int) -> String { "\(max(256 << 20, objects * smallObjectSize * 2))" }

    struct Latency {
        let p50: Double  // us
        let p99: Double
        let p99Range: ClosedRange<Double>
    }

    struct Outcome {
        let objects: Int
        let rssBefore: Int
        let rssAfter: Int
        let fillRate: Double  // objects/s
        let small: Latency
        let large: Latency
        let samples: Int
        let repetitions: Int
        /// Sealed objects in the store during the two latency measurements (ours plus any already there).
        let storeObjectsSmall: Int64
        let storeObjectsLarge: Int64
        var bytesPerObject: Double { Double(rssAfter - rssBefore) / Double(objects) }
    }

    static func run(client: PlasmaClient, storePID: Int32, objects: Int, samples: Int, repetitions: Int, seed: UInt64) throws -> Outcome {
        guard objects >= firstStep else { throw BenchError.childFailed("--scale-objects must be at least \(firstStep)") }
        var generator = SplitMix64(seed: seed)
        let ids = (0..<objects).map { _ in ObjectID.random(using: &generator) }
        let payload = [UInt8](repeating: 7, count: smallObjectSize)
        guard let rssBefore = anonymousRSS(pid: storePID) else {
            throw BenchError.childFailed("cannot read /proc/\(storePID)/status (is the store on this machine?)")
        }
        let sealedBefore = try client.statistics().sealedObjects
        func fill(_ range: Range<Int>) throws {
            var progress = ProgressLine(total: objects, label: "scale")
            for start in stride(from: range.lowerBound, to: range.upperBound, by: batchSize) {
                let batch = ids[start..<min(range.upperBound, start + batchSize)].map { InlineObject(id: $0, data: payload) }
                guard try client.createAndSeal(batch: batch).allSatisfy({ $0 == .ok }) else { throw BenchError.batchRefused }
                progress.update(start + batch.count)
            }
            progress.finish()
        }
        defer {
            for start in stride(from: 0, to: ids.count, by: 10_000) {
                _ = try? client.delete(Array(ids[start..<min(ids.count, start + 10_000)]))
            }
        }
        let fillStart = ContinuousClock.now
        try fill(0..<firstStep)
        var fillSeconds = (ContinuousClock.now - fillStart).inSeconds
        let storeObjectsSmall = try client.statistics().sealedObjects
        let small = try latency(client, ids[..<firstStep], samples: samples, repetitions: repetitions, &generator)
        let restStart = ContinuousClock.now
        try fill(firstStep..<objects)
        fillSeconds += (ContinuousClock.now - restStart).inSeconds
        let rssAfter = anonymousRSS(pid: storePID) ?? rssBefore
        let storeObjectsLarge = try client.statistics().sealedObjects
        let present = storeObjectsLarge - sealedBefore
        guard present >= Int64(objects) else {
            throw BenchError.childFailed("scale: only \(present) of \(objects) objects stayed in the store (capacity too small? evicted)")
        }
        let large = try latency(client, ids[...], samples: samples, repetitions: repetitions, &generator)
        return Outcome(
            objects: objects, rssBefore: rssBefore, rssAfter: rssAfter, fillRate: Double(objects) / fillSeconds,
            small: small, large: large, samples: samples, repetitions: repetitions,
            storeObjectsSmall: storeObjectsSmall, storeObjectsLarge: storeObjectsLarge)
    }

    /// get + release of random ids from `ids`: a warm-up run, then `repetitions` runs of `samples`.
    private static func latency(
        _ client: PlasmaClient, _ ids: ArraySlice<ObjectID>, samples: Int, repetitions: Int, _ generator: inout SplitMix64
    ) throws -> Latency {
        var (p50s, p99s) = ([Double](), [Double]())
        for run in 0...repetitions {
            var nanoseconds = [UInt64]()
            nanoseconds.reserveCapacity(samples)
            for _ in 0..<samples {
                let id = ids[ids.startIndex + Int(generator.next() % UInt64(ids.count))]
                let start = MonotonicClock.nanoseconds()
                guard let buffer = try client.get(id, timeout: .no) else { throw BenchError.missing }
                try buffer.release()
                nanoseconds.append(MonotonicClock.nanoseconds() - start)
            }
            guard run > 0 else { continue }  // warm-up
            nanoseconds.sort()
            p50s.append(Double(percentile(nanoseconds, 0.5)) / 1000)
            p99s.append(Double(percentile(nanoseconds, 0.99)) / 1000)
        }
        p50s.sort()
        p99s.sort()
        return Latency(p50: p50s[p50s.count / 2], p99: p99s[p99s.count / 2], p99Range: p99s.first!...p99s.last!)
    }

    static func row(_ outcome: Outcome) -> Row {
        let (small, large) = (outcome.small, outcome.large)
        let count = "\(outcome.objects)"
        return Row(
            name: "scale", figure: String(format: "%.0f B/object", outcome.bytesPerObject),
            spread: String(format: "get p50 %.1f→%.1f us", small.p50, large.p50),
            what: "store RssAnon \(String(format: "%+.1f MiB", Double(outcome.rssAfter - outcome.rssBefore) / 1_048_576)) "
                + "for \(count) objects of 64 B (filled at \(Report.format(outcome.fillRate)) objects/s); get+release p50/p99 "
                + String(format: "%.1f/%.1f us at %d objects, %.1f/%.1f us at %@", small.p50, small.p99, firstStep,
                         large.p50, large.p99, count)
                + " (\(outcome.samples) random gets × \(outcome.repetitions), medians)"
                + (outcome.storeObjectsSmall > Int64(firstStep)
                    ? "; the store held \(outcome.storeObjectsSmall) and \(outcome.storeObjectsLarge) objects in all" : ""),
            json: [("unit", "\"bytes/object\""), ("rss_bytes_per_object", "\(outcome.bytesPerObject)"),
                   ("objects", "\(outcome.objects)"), ("rss_anon_before", "\(outcome.rssBefore)"),
                   ("rss_anon_after", "\(outcome.rssAfter)"), ("fill_objects_per_second", "\(outcome.fillRate)"),
                   ("get_p50_us_small", "\(small.p50)"), ("get_p99_us_small", "\(small.p99)"),
                   ("get_p50_us_large", "\(large.p50)"), ("get_p99_us_large", "\(large.p99)"),
                   ("small_objects", "\(firstStep)"), ("samples", "\(outcome.samples)"),
                   ("store_objects_small", "\(outcome.storeObjectsSmall)"), ("store_objects_large", "\(outcome.storeObjectsLarge)"),
                   ("repetitions", "\(outcome.repetitions)")])
    }
}
