import ArgumentParser
import Glibc
import PlasmaClient
import PlasmaCore
import PlasmaToolSupport

/// `plasma get ID`: writes a sealed object's data (or metadata) to stdout or a file.
struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Write a sealed object's data to stdout or a file.",
        discussion: """
            Without --wait or --timeout it doesn't wait: an object that is missing or not sealed yet \
            exits with status 3. --wait waits until another process seals it; --timeout waits at most \
            that long and then exits with status 4 (it takes precedence over --wait). The bytes are written straight from the shared \
            memory, with no copy in this process. Binary data (anything but UTF-8 text) is not written to a \
            terminal unless -o - asks for it (usage error, status 64).
            """)

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Wait until the object is sealed, however long that takes.")
    var wait = false

    @Option(help: ArgumentHelp("Wait at most this long for the object to be sealed (\(DurationArgument.forms)).", valueName: "duration"),
            transform: { text throws in try DurationArgument.parse(text) })
    var timeout: Duration?

    @Option(name: [.customShort("o"), .customLong("output")],
            help: ArgumentHelp("Write to this file instead of stdout (- is stdout, even a terminal for binary data).", valueName: "file"))
    var output: String?

    @Flag(help: "Write the object's metadata instead of its data.")
    var metadata = false

    @Argument(help: ArgumentHelp("The object's id, 40 hex digits.", valueName: "id"))
    var id: String

    func validate() throws {
        _ = try parseObjectID(id)
    }

    func run() throws {
        let objectID = try parseObjectID(id)
        let client = try connection.connect("plasma get")
        let waiting: Wait = timeout.map { .timeout($0) } ?? (wait ? .forever : .no)
        let found: ObjectBuffer?
        do {
            found = try client.get(objectID, timeout: waiting)
        } catch {
            throw CLIError(error, doing: "get \(objectID.hex)")
        }
        guard let buffer = found else {
            if let timeout {
                throw CLIError(.timedOut, "object \(objectID.hex) was not sealed within \(timeout.compact)")
            }
            throw CLIError(.notFound, "no sealed object \(objectID.hex) in the store")
        }
        if metadata {
            try buffer.withUnsafeMetadata { bytes throws(CLIError) in try write(bytes) }
        } else {
            try buffer.withUnsafeBytes { bytes throws(CLIError) in try write(bytes) }
        }
        try? buffer.release()
    }

    private func write(_ bytes: UnsafeRawBufferPointer) throws(CLIError) {
        if output == nil, !TerminalGuard.allows(bytes) {
            throw CLIError(.usage, "not writing \(bytes.count) bytes of binary data to the terminal: give -o FILE, pipe it into a program, or give -o - to write them to the terminal anyway")
        }
        let path = output ?? "-"
        let toStdout = path == "-"
        let fd = toStdout ? STDOUT_FILENO : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw CLIError(.failure, IOError("cannot open \(path)").description) }
        let progress = ProgressBar("get", total: bytes.count)
        do {
            try writeAll(fd, bytes, progress: progress.update)
            progress.finish()
        } catch {
            progress.finish()
            if !toStdout {
                Glibc.close(fd)
                unlink(path)
            }
            throw CLIError(.failure, "writing \(toStdout ? "stdout" : path): \(error)")
        }
        if !toStdout, Glibc.close(fd) != 0 {
            let error = IOError("writing \(path)")
            unlink(path)
            throw CLIError(.failure, error.description)
        }
    }
}
