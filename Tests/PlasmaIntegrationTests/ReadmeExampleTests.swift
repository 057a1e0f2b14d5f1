import Foundation
import Testing

extension IntegrationTests {
    /// The README's Swift snippets are excerpts of complete programs in Examples/ (built with the package,
    /// Swift 6 language mode): each snippet must appear verbatim in its program, and each program runs
    /// against a real store and does what the README says.
    @Suite struct ReadmeExampleTests {
        static let root = RepositoryScript.repository

        /// (program path named in the `<!-- example: PATH -->` line, the ```swift block right after it).
        static func readmeSnippets() throws -> [(path: String, code: String)] {
            let lines = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            var snippets: [(String, String)] = []
            for (index, line) in lines.enumerated() where line.hasPrefix("<!-- example: ") {
                let path = line.dropFirst("<!-- example: ".count).replacingOccurrences(of: " -->", with: "")
                guard index + 1 < lines.count, lines[index + 1] == "```swift" else { continue }
                let body = lines[(index + 2)...].prefix { $0 != "```" }
                snippets.append((path, body.joined(separator: "\n")))
            }
            return snippets
        }

        @Test func everySwiftBlockInTheReadmeIsAnExcerptOfAnExampleProgram() throws {
            let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
            let swiftBlocks = readme.components(separatedBy: "```swift\n").count - 1
            let snippets = try Self.readmeSnippets()
            #expect(snippets.count == swiftBlocks, "every ```swift block needs an <!-- example: PATH --> line before it")
            #expect(snippets.count >= 3)
            for (path, code) in snippets {
                let program = try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
                #expect(program.contains(code), "README snippet drifted from \(path):\n\(code)")
            }
        }

        /// Runs an example program with the store's socket in its environment; (exit status, output).
        func run(_ program: String, store: StoreProcess) throws -> (Int32, String) {
            let process = Process()
            let output = Pipe()
            process.executableURL = BuiltProducts.url(program)
            process.environment = ProcessInfo.processInfo.environment.merging(
                ["PLASMA_STORE_SOCKET": store.socketPath]) { $1 }
            process.standardOutput = output
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, text)
        }

        @Test func thePutGetExampleReadsBackTheObjectItWrote() throws {
            let store = try StoreProcess()
            let (status, output) = try run("example-put-get", store: store)
            #expect(status == 0)
            #expect(output == "1048576 3 1048576\n")  // sizes, then the sum of a megabyte of ones
            #expect(try store.connect().statistics().sealedObjects == 2)
        }

        @Test func theAwaitExampleGetsAllFourProducersObjects() throws {
            let store = try StoreProcess()
            let (status, output) = try run("example-await-producers", store: store)
            #expect(status == 0)
            #expect(output.hasPrefix("4 objects after "), "\(output)")
            // Each producer works a second before it seals, so no run can be shorter.
            let seconds = Double(output.split(separator: " ")[3]) ?? 0
            #expect(seconds >= 1, "\(output)")
            #expect(try store.connect().statistics().sealedObjects == 4)
        }

        @Test func theSubscriberExamplePrintsTheSeal() throws {
            let store = try StoreProcess()
            let (status, output) = try run("example-subscriber", store: store)
            #expect(status == 0)
            #expect(output.hasPrefix("sealed ") && output.hasSuffix(" 5\n"), "\(output)")
            #expect(try store.connect().statistics().subscriptions == 0)
        }
    }
}
