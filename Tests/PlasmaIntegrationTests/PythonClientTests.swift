import Foundation
import PlasmaClient
import Testing

extension IntegrationTests {
    /// The Python package (`python/`, import name `swiftplasma`) against our store: `python/run-tests.sh`
    /// installs it with `pip install ./python` into `.venv-python/` (with current numpy, pyarrow and
    /// pytest; a minute, once) and runs its pytest suite against the `plasma-store` this `swift test`
    /// built: blocking and asyncio clients, four producers awaited with `as_future`, the known-issue test
    /// (1,000 awaits while 100,000 unrelated objects are sealed), numpy and pyarrow IPC across processes.
    /// It never skips: without PyPI it fails with the setup log.
    @Suite struct PythonClientTests {
        /// Names whose ids the Python side must derive exactly as `ObjectID(name:)` does here.
        static let names = ["weights/v3", "", "naïve 名前", "frames/example", String(repeating: "long name ", count: 100)]

        @Test(.timeLimit(.minutes(10)))
        func swiftplasmaTestSuitePassesAgainstOurStore() throws {
            let swiftIDs = Dictionary(uniqueKeysWithValues: Self.names.map { ($0, ObjectID(name: $0).hex) })
            let (status, text) = try RepositoryScript.run(
                "python/run-tests.sh", arguments: ["-q"],
                environment: ["SWIFT_OBJECT_ID_NAMES": String(decoding: try JSONEncoder().encode(swiftIDs), as: UTF8.self)])

            // pytest's summary and the figures the tests report; shown either way.
            let lines = text.split(separator: "\n")
            let figures = lines.drop { !$0.contains("swiftplasma figures") }.prefix { !$0.contains(" passed") && !$0.contains(" failed") }
            print(figures.joined(separator: "\n"))
            let summary = lines.last { $0.contains(" passed") || $0.contains(" failed") || $0.contains(" error") }
            print(summary ?? "no pytest summary")
            #expect(status == 0, "python/run-tests.sh failed:\n\(text.suffix(8000))")
            #expect(summary.map { $0.contains(" passed") && !$0.contains("failed") && !$0.contains("error") } ?? false,
                    "\(text.suffix(4000))")
            // Only the other-user trust test may skip, and only where there is no root or setpriv.
            #expect(summary.map { !$0.contains("skipped") } ?? false || getuid() != 0, "tests skipped:\n\(text.suffix(3000))")
        }
    }
}
