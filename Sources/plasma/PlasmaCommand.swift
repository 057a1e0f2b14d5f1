import ArgumentParser
import Glibc
import PlasmaCore

/// `plasma`: the store from a terminal or a script.
///
/// Every failure is one `plasma: …` line on stderr and an exit status from `ExitStatus`.
@main
struct PlasmaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plasma",
        abstract: "Put, get, list, delete and evict objects of a plasma store; show its statistics; watch its events.",
        discussion: """
            Every subcommand talks to the store on --socket PATH (before or after the subcommand), \
            default $PLASMA_STORE_SOCKET, else /tmp/plasma.sock. Ids are 40 hex digits. Durations: \(DurationArgument.forms). \
            Sizes: bytes, or K, M, G, T (powers of 1024), KiB… likewise, KB, MB… (powers of 1000).
            Errors go to stderr as one line starting with "plasma: ".

            \(ExitStatus.helpText)
            """,
        version: PlasmaVersion.current,
        subcommands: [
            PutCommand.self, GetCommand.self, ListCommand.self, StatsCommand.self, DeleteCommand.self,
            EvictCommand.self, WatchCommand.self, ClusterCommand.self,
        ])

    static func main() {
        let arguments = CommandLineRewrite.normalizing(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Glibc.exit(ExitStatus.ok.rawValue)
        } catch let error as CLIError {
            fail(error.message, status: error.status.rawValue)
        } catch let error as ExitCode {
            Glibc.exit(error.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // --help
            guard code == .validationFailure else { fail("\(error)", status: ExitStatus.failure.rawValue) }
            fail(usageMessage(for: error), status: ExitStatus.usage.rawValue)
        }
    }

    /// ArgumentParser's message, on one line, with its "see --help" pointer.
    static func usageMessage(for error: any Error) -> String {
        var message = self.message(for: error).split(separator: "\n").joined(separator: "; ")
        let full = fullMessage(for: error)
        if let start = full.range(of: "See '"), let end = full[start.upperBound...].range(of: "'") {
            message += " (see '\(full[start.upperBound..<end.lowerBound])')"
        }
        return message
    }

    static func fail(_ message: String, status: Int32) -> Never {
        fflush(nil)
        writeLine(message)
        Glibc.exit(status)
    }

    /// One `plasma: warning: …` line on stderr; the command goes on.
    static func warn(_ message: String) { writeLine("warning: \(message)") }

    private static func writeLine(_ message: String) {
        var line = Array("plasma: \(message)\n".utf8)
        _ = line.withUnsafeMutableBytes { try? writeAll(STDERR_FILENO, UnsafeRawBufferPointer($0)) }
    }
}
