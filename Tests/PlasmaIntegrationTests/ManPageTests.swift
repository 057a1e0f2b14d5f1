import Foundation
import Testing

extension IntegrationTests {
    /// Every flag a program's `--help` lists is documented in its man page.
    @Suite struct ManPageTests {
        static let manDirectory = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("man")

        /// The `--long` flags in a help text.
        func flags(inHelpOf program: String, _ arguments: [String] = ["--help"]) throws -> Set<String> {
            let process = Process()
            let output = Pipe()
            process.executableURL = BuiltProducts.url(program)
            process.arguments = arguments
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            let pattern = try Regex("--[a-z][a-z0-9-]+")
            return Set(text.matches(of: pattern).map { String(text[$0.range]) })
        }

        /// The man page with roff's escaped hyphens (`\-`) made plain.
        func manPage(_ name: String) throws -> String {
            try String(contentsOf: Self.manDirectory.appendingPathComponent(name), encoding: .utf8)
                .replacingOccurrences(of: "\\-", with: "-")
        }

        @Test(arguments: [
            ("plasma-store", "plasma-store.1", [String]()),
            ("plasma", "plasma.1", ["put"]), ("plasma", "plasma.1", ["get"]), ("plasma", "plasma.1", ["list"]),
            ("plasma", "plasma.1", ["stats"]), ("plasma", "plasma.1", ["delete"]), ("plasma", "plasma.1", ["evict"]),
            ("plasma", "plasma.1", ["watch"]),
        ])
        func everyHelpFlagIsInTheManPage(_ program: String, _ page: String, _ subcommand: [String]) throws {
            let flags = try flags(inHelpOf: program, subcommand + ["--help"])
            #expect(flags.count >= 2, "help listed: \(flags)")
            let text = try manPage(page)
            for flag in flags.sorted() { #expect(text.contains(flag), "\(flag) is missing from man/\(page)") }
        }
    }
}
