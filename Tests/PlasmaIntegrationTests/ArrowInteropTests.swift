import Foundation
import Testing

extension IntegrationTests {
    /// The real pyarrow 11 against our store: `Tests/arrow-interop/run.sh` runs our interop tests (the
    /// Python client, a C++ client built against the wheel's libplasma, both dialects seeing each other's
    /// objects) and Arrow's own `test_plasma.py`, with the binaries this `swift test` built.
    ///
    /// Part of `swift test` so that the README's one test command covers interop: run.sh installs
    /// pyarrow 11 into `.venv-arrow/` when it is missing (a minute, once) and fails with one line that says
    /// how to install it by hand when it can't. It never skips.
    @Suite struct ArrowInteropTests {
        @Test(.timeLimit(.minutes(10)))
        func pyarrowElevenClientsAndArrowsOwnTestSuitePassAgainstOurStore() throws {
            let (status, text) = try RepositoryScript.run(
                "Tests/arrow-interop/run.sh", environment: ["PLASMA_CLI_BIN": BuiltProducts.url("plasma").path])

            // pytest's summary lines ("== 23 passed in 9.1s ==") say what ran; show them either way.
            let summaries = text.split(separator: "\n").filter { $0.hasPrefix("==") }
            print(summaries.joined(separator: "\n"))
            #expect(status == 0, "Tests/arrow-interop/run.sh failed:\n\(text.suffix(6000))")
            let results = summaries.filter { $0.contains(" passed") || $0.contains(" failed") }
            #expect(results.count == 2, "expected two pytest runs:\n\(text.suffix(3000))")
            #expect(!results.contains { $0.contains(" failed") || $0.contains(" error") }, "\(text.suffix(6000))")
            // Ours never skip; Arrow's own suite skips its 2 pandas / hugepage tests, as it does against
            // Arrow's store.
            #expect(results.first.map { !$0.contains("skipped") } ?? false, "our interop tests skipped some")
        }
    }
}
