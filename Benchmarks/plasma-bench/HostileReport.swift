import Foundation

/// The `hostile` workload's result: one row (table or JSON), a line per attack, and the verdict.
extension HostileBenchmark {
    static func row(_ outcome: Outcome) -> Row {
        let (before, during) = (outcome.before, outcome.during)
        let rss = "RSS \(mib(outcome.baseline.rss)) → \(mib(outcome.peak.rss)) → \(outcome.end.map { mib($0.rss) } ?? "?")"
        let anon = "RssAnon \(mib(outcome.baseline.rssAnon)) → \(mib(outcome.peak.rssAnon)) → \(outcome.end.map { mib($0.rssAnon) } ?? "?")"
        let budget = outcome.budget.map { "budget \(mib($0)) (from \(outcome.budgetSource))" } ?? "budget unknown (0 assumed)"
        let totals = outcome.attacks.reduce(HostileAttack.Tally()) { $0 + $1.tally }
        var json: [(String, String)] = [
            ("passed", "\(outcome.passed)"), ("crashed", "\(!outcome.crashes.isEmpty)"), ("seconds", "\(outcome.seconds)"),
            ("connections", "\(outcome.connections)"), ("attacker_scheduling", Report.jsonString(outcome.attackerScheduling.rawValue)),
            ("rss_baseline", "\(outcome.baseline.rss)"), ("rss_peak", "\(outcome.peak.rss)"),
            ("rss_end", outcome.end.map { "\($0.rss)" } ?? "null"),
            ("rss_anon_baseline", "\(outcome.baseline.rssAnon)"), ("rss_anon_peak", "\(outcome.peak.rssAnon)"),
            ("rss_anon_end", outcome.end.map { "\($0.rssAnon)" } ?? "null"), ("clients_left_at_end", "\(outcome.clientsLeftAtEnd)"),
            ("arena_size", "\(outcome.arenaSize)"), ("client_state_budget", outcome.budget.map { "\($0)" } ?? "null"),
            ("budget_source", Report.jsonString(outcome.budgetSource)),
            ("client_state_used_peak", outcome.usedPeak.map { "\($0)" } ?? "null"),
            ("client_state_used_end", outcome.usedEnd.map { "\($0)" } ?? "null"),
            ("target_rss", "\(outcome.targetRSS)"), ("rss_ceiling", "\(outcome.ceiling)"), ("aborted", "\(outcome.aborted)"),
            ("get_p50_ms", "\(during.p50)"), ("get_p99_ms", "\(during.p99)"), ("get_max_ms", "\(during.max)"),
            ("get_samples", "\(during.samples)"), ("get_errors", "\(during.errors)"),
            ("get_p99_setting_up_ms", outcome.settingUp.samples > 0 ? "\(outcome.settingUp.p99)" : "null"),
            ("get_samples_setting_up", "\(outcome.settingUp.samples)"),
            ("get_p99_held_ms", outcome.held.samples > 0 ? "\(outcome.held.p99)" : "null"), ("get_samples_held", "\(outcome.held.samples)"),
            ("baseline_get_p50_ms", "\(before.p50)"), ("baseline_get_p99_ms", "\(before.p99)"),
            ("ready_seconds", outcome.readySeconds.map { "\($0)" } ?? "null"),
            ("closed_by_store", "\(totals.closedByStore)"), ("connect_failed", "\(totals.connectFailed)"),
            ("stalled", "\(totals.stalled)"), ("refused_requests", "\(totals.refusedRequests)"),
        ]
        if let passes = outcome.passes {
            json += [("store_passes_over_1ms", "\(passes.over1ms)"), ("store_passes_over_5ms", "\(passes.over5ms)"),
                     ("store_passes_over_20ms", "\(passes.over20ms)"), ("store_pass_longest_ms", "\(passes.longestMilliseconds)")]
            if let units = passes.mostWorkUnits { json.append(("store_pass_most_work_units", "\(units)")) }
        }
        if let store = outcome.storeThread, let victim = outcome.victimThread {
            json += [("store_thread_run_ms", "\(store.runNanoseconds / 1_000_000)"), ("store_thread_wait_ms", "\(store.waitNanoseconds / 1_000_000)"),
                     ("victim_thread_run_ms", "\(victim.runNanoseconds / 1_000_000)"), ("victim_thread_wait_ms", "\(victim.waitNanoseconds / 1_000_000)")]
        }
        let attacks = outcome.attacks.map { result in
            "{\"attack\":\"\(result.attack.rawValue)\",\"connections\":\(result.connections),\"processes\":\(result.processes),"
                + "\"opened\":\(result.tally.opened),\"connect_failed\":\(result.tally.connectFailed),"
                + "\"closed_by_store\":\(result.tally.closedByStore),\"stalled\":\(result.tally.stalled),"
                + "\"refused_requests\":\(result.tally.refusedRequests),\"sent\":\(result.tally.sent),"
                + "\"unreported_processes\":\(result.unreported)}"
        }
        json.append(("attacks", "[" + attacks.joined(separator: ",") + "]"))
        json.append(("failures", "[" + (outcome.crashes + outcome.failures).map(Report.jsonString).joined(separator: ",") + "]"))
        return Row(
            name: "hostile", figure: "RSS \(mib(outcome.peak.rss))", spread: String(format: "get p99 %.2f ms", during.p99),
            what: "\(verdictWord(outcome)): \(outcome.connections) hostile connections (\(outcome.attacks.map(\.attack.rawValue).joined(separator: ", "))) "
                + (outcome.attackerScheduling == .peer ? "" : "at scheduling class \(outcome.attackerScheduling.rawValue) (a variant, not the target's definition) ")
                + "for \(outcome.seconds) s; store \(rss), \(anon) (baseline → peak → end\(outcome.clientsLeftAtEnd > 0 ? ", with \(outcome.clientsLeftAtEnd) attackers still counted" : "")); arena \(mib(outcome.arenaSize)), "
                + "\(budget), target RSS ≤ \(mib(outcome.targetRSS))"
                + (outcome.usedPeak.map { ", client state used: peak \(mib($0))" } ?? "")
                + "; well-behaved get (corrected for coordinated omission) "
                + String(format: "p50 %.3f / p99 %.3f / max %.1f ms (before the attack: p50 %.3f / p99 %.3f ms), %d gets, %d errors",
                         during.p50, during.p99, during.max, before.p50, before.p99, during.samples, during.errors)
                + String(format: " (p99 %.3f ms over %d gets while the attackers set up, %.3f ms over %d once all were)",
                         outcome.settingUp.p99, outcome.settingUp.samples, outcome.held.p99, outcome.held.samples)
                + "; the store closed \(totals.closedByStore) hostile connections, refused \(totals.connectFailed) connects "
                + "and \(totals.refusedRequests) requests, had not read all of \(totals.stalled) by the end"
                + passesText(outcome),
            json: json)
    }

    /// The store's side of the latency: its loop passes, and how long its thread and the client's
    /// waited for a core (the benchmark's own processes share the machine).
    static func passesText(_ outcome: Outcome) -> String {
        var text = ""
        if let passes = outcome.passes {
            text += String(format: "; store loop passes during the attack: %d over 1 ms, %d over 5 ms, %d over 20 ms, longest since start %.1f ms",
                           passes.over1ms, passes.over5ms, passes.over20ms, passes.longestMilliseconds)
            // Work, not time: what the store's pass budget bounds whatever the machine's load.
            if let units = passes.mostWorkUnits { text += ", the most work in one pass \(units) units (~µs of CPU)" }
        }
        if let store = outcome.storeThread, let victim = outcome.victimThread {
            text += String(format: "; over the attack the store's loop thread ran %.0f ms and waited for a core %.0f ms, the well-behaved client's ran %.0f ms and waited %.0f ms",
                           Double(store.runNanoseconds) / 1e6, Double(store.waitNanoseconds) / 1e6,
                           Double(victim.runNanoseconds) / 1e6, Double(victim.waitNanoseconds) / 1e6)
        }
        return text
    }

    /// One line per attack, for the text report.
    static func attackLines(_ outcome: Outcome) -> String {
        outcome.attacks.map { result in
            let tally = result.tally
            return "hostile \(result.attack.rawValue): \(result.connections) connections in \(result.processes) processes, "
                + "\(tally.opened) opened, \(tally.connectFailed) connects failed, \(tally.closedByStore) closed by the store, "
                + "\(tally.stalled) not read to the end, \(tally.refusedRequests) refusals, \(tally.sent) sent"
                + (result.unreported > 0 ? ", \(result.unreported) processes did not report" : "")
        }.joined(separator: "\n")
    }

    static func verdictWord(_ outcome: Outcome) -> String {
        !outcome.crashes.isEmpty ? "CRASH" : outcome.passed ? "PASS" : "FAIL"
    }

    /// "hostile: PASS" or "hostile: FAIL: why; why" (crashes first).
    static func verdict(_ outcome: Outcome) -> String {
        let reasons = outcome.crashes + outcome.failures
        return "hostile: \(verdictWord(outcome))" + (reasons.isEmpty ? "" : ": " + reasons.joined(separator: "; "))
    }
}
