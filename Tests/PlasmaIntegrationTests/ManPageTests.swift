import Foundation
import Testing

extension IntegrationTests {
    /// Every flag a program's `--help` lists is documented in its man page, and every workload
    /// `plasma-bench --help` lists has its own entry.
    @Suite struct ManPageTests {
        static let manDirectory = RepositoryScript.repository.appendingPathComponent("man")

        /// What a program prints for `arguments` (standard output and error together).
        func helpText(of program: String, _ arguments: [String] = ["--help"]) throws -> String {
            let process = Process()
            let output = Pipe()
            process.executableURL = BuiltProducts.url(program)
            process.arguments = arguments
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return text
        }

        /// The `--long` flags in a help text.
        func flags(inHelpOf program: String, _ arguments: [String] = ["--help"]) throws -> Set<String> {
            let text = try helpText(of: program, arguments)
            let pattern = try Regex("--[a-z][a-z0-9-]+")
            return Set(text.matches(of: pattern).map { String(text[$0.range]) })
        }

        /// The workload names `plasma-bench --help` lists: the comma-separated names after
        /// "Workloads to run (…):" in its ARGUMENTS section, without parenthesised remarks.
        func workloads(inHelpOf program: String) throws -> [String] {
            let text = try helpText(of: program)
            guard let start = text.range(of: "Workloads to run"),
                  let end = text.range(of: "OPTIONS:", range: start.upperBound..<text.endIndex)
            else { return [] }
            let remarks = try Regex(#"\([^)]*\)"#)
            let list = String(text[start.upperBound..<end.lowerBound]).replacing(remarks, with: "")
            guard let colon = list.firstIndex(of: ":") else { return [] }
            return list[list.index(after: colon)...]
                .split { !($0.isLetter || $0.isNumber || $0 == "-") }
                .map(String.init)
        }

        /// The man page with roff's escaped hyphens (`\-`) made plain.
        func manPage(_ name: String) throws -> String {
            try String(contentsOf: Self.manDirectory.appendingPathComponent(name), encoding: .utf8)
                .replacingOccurrences(of: "\\-", with: "-")
        }

        /// The first word of every item tag (the line after `.TP`) and subsection title (`.SS`) in one
        /// `.SH` section of a man page, font macros and quotes removed.
        func itemTags(inSection section: String, of page: String) throws -> Set<String> {
            let lines = try manPage(page).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            guard let heading = lines.firstIndex(where: { $0 == ".SH \(section)" || $0 == ".SH \"\(section)\"" })
            else { return [] }
            let body = lines[(heading + 1)...].prefix { !$0.hasPrefix(".SH ") }
            var tags = Set<String>()
            for (index, line) in zip(body.indices, body) {
                let isTag = index > body.startIndex && body[index - 1].hasPrefix(".TP")
                guard isTag || line.hasPrefix(".SS ") else { continue }
                let words = line.split(separator: " ").dropFirst(line.hasPrefix(".") ? 1 : 0)
                if let first = words.first { tags.insert(first.replacingOccurrences(of: "\"", with: "")) }
            }
            return tags
        }

        @Test(arguments: [
            ("plasma-store", "plasma-store.1", [String]()),
            ("plasma", "plasma.1", ["put"]), ("plasma", "plasma.1", ["get"]), ("plasma", "plasma.1", ["list"]),
            ("plasma", "plasma.1", ["stats"]), ("plasma", "plasma.1", ["delete"]), ("plasma", "plasma.1", ["evict"]),
            ("plasma", "plasma.1", ["watch"]), ("plasma", "plasma.1", ["cluster"]),
            ("plasma-bench", "plasma-bench.1", []),
        ])
        func everyHelpFlagIsInTheManPage(_ program: String, _ page: String, _ subcommand: [String]) throws {
            let flags = try flags(inHelpOf: program, subcommand + ["--help"])
            #expect(flags.count >= 2, "help listed: \(flags)")
            let text = try manPage(page)
            for flag in flags.sorted() { #expect(text.contains(flag), "\(flag) is missing from man/\(page)") }
        }

        @Test func everyBenchWorkloadHasAnEntryInTheManPage() throws {
            let names = try workloads(inHelpOf: "plasma-bench")
            #expect(names.count >= 10, "help listed: \(names)")
            let documented = try itemTags(inSection: "WORKLOADS", of: "plasma-bench.1")
            for name in names {
                #expect(documented.contains(name), "workload \(name) has no entry in WORKLOADS of man/plasma-bench.1")
            }
        }
    }
}
