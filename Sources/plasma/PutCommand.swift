import ArgumentParser
import Glibc
import PlasmaClient
import PlasmaCore

/// `plasma put [ID] FILE|-`: stores bytes as a sealed object and prints its id.
struct PutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Store a file's bytes (or standard input's) as a sealed object; print its id.",
        usage: "plasma put [--metadata <string>] [--wait-for-space[=<duration>]] [--socket <path>] [<id>] <file>",
        discussion: """
            Prints the object's 40-hex-digit id on stdout: the given one, or a random one when the id is \
            omitted. FILE - reads standard input.
            Objects over 64 KiB are created in the store and the file is read straight into the shared \
            buffer, then sealed; smaller ones travel in one round trip.
            --wait-for-space without a value waits as long as it takes; --wait-for-space=30s (or \
            --wait-for-space 30s when a file follows) waits at most that long. Without it a full store \
            fails at once (exit status 5).
            """)

    /// Objects up to this size go by createAndSeal (one round trip, bytes through the socket).
    static let inlineLimit = 64 << 10

    @OptionGroup var connection: ConnectionOptions

    @Option(help: ArgumentHelp("Metadata to attach to the object (stored as its UTF-8 bytes).", valueName: "string"))
    var metadata: String?

    @Option(name: .customLong("wait-for-space"),
            help: ArgumentHelp(
                "When the store is full, wait for space: without a value as long as it takes, else at most DURATION (\(DurationArgument.forms)).",
                valueName: "duration"),
            transform: { text throws in try DurationArgument.parseWait(text) })
    var waitForSpace: Wait?

    @Argument(help: ArgumentHelp("The object's id, 40 hex digits; random when omitted.", valueName: "id"))
    var id: String?

    @Argument(help: ArgumentHelp("The file to store, or - for standard input.", valueName: "file"))
    var file: String?

    mutating func validate() throws {
        if file == nil { (id, file) = (nil, id) }
        guard file != nil else { throw ValidationError("Missing expected argument '<file>' (a path, or - for standard input)") }
        if let id { _ = try parseObjectID(id) }
    }

    func run() throws {
        let objectID = try id.map(parseObjectID) ?? ObjectID.random()
        let file = file!
        let input = try InputFile(file)
        defer { input.close() }
        let client = try connection.connect("plasma put")
        let writer = Writer(
            client: client, id: objectID, metadata: Array((metadata ?? "").utf8), wait: waitForSpace ?? .no)

        if let size = input.size {
            if size <= Self.inlineLimit {
                let data = try [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                    count = try readFully(input.fd, into: UnsafeMutableRawBufferPointer(buffer))
                }
                guard data.count == size else { throw CLIError(.failure, "\(input.name) shrank while it was read") }
                try writer.createAndSeal(data)
            } else {
                try writer.createInPlace(size: size, name: input.name) { object, progress in
                    try object.withUnsafeMutableBytes { try readFully(input.fd, into: $0, progress: progress.update) }
                }
            }
        } else {
            let progress = ProgressBar("put", total: nil)
            let buffer = GrowingBuffer()
            do {
                try buffer.readToEnd(input.fd, progress: progress.update)
            } catch {
                throw CLIError(.failure, "reading \(input.name): \(error)")
            }
            progress.finish()
            if buffer.count <= Self.inlineLimit {
                try writer.createAndSeal(Array(buffer.bytes))
            } else {
                try writer.createInPlace(size: buffer.count, name: input.name) { object, _ in
                    object.withUnsafeMutableBytes { $0.copyMemory(from: buffer.bytes) }
                    return buffer.count
                }
            }
        }
        print(objectID.hex)
    }
}

/// The put's store side: create, fill, seal, with the client's errors mapped to exit statuses.
private struct Writer {
    let client: PlasmaClient
    let id: ObjectID
    let metadata: [UInt8]
    let wait: Wait

    var doing: String { "put \(id.hex)" }

    func createAndSeal(_ data: [UInt8]) throws(CLIError) {
        do {
            try client.createAndSeal(id, data: data, metadata: metadata, waitForSpace: wait)
        } catch {
            throw CLIError(error, doing: doing)
        }
    }

    /// Creates the object, lets `fill` write its data in place (returning the bytes written), seals it.
    /// A failure aborts the unsealed object.
    func createInPlace(
        size: Int, name: String, fill: (borrowing MutableObject, ProgressBar) throws -> Int
    ) throws {
        let object: MutableObject
        do {
            object = try client.create(id, dataSize: size, metadata: metadata, waitForSpace: wait)
        } catch {
            throw CLIError(error, doing: doing)
        }
        let progress = ProgressBar("put", total: size)
        let written: Int
        do {
            written = try fill(object, progress)
        } catch {
            progress.finish()
            try? object.abort()
            throw CLIError(.failure, "reading \(name): \(error)")
        }
        progress.finish()
        guard written == size else {
            try? object.abort()
            throw CLIError(.failure, "\(name) shrank while it was read (\(written) of \(size) bytes)")
        }
        do {
            try object.seal().release()
        } catch {
            throw CLIError(error, doing: doing)
        }
    }
}

/// The input: a named file or standard input; `size` is known for regular files.
private struct InputFile {
    let fd: Int32
    let name: String
    /// Bytes left to read, for a regular file; nil for pipes, terminals and sockets.
    let size: Int?
    private let owned: Bool

    init(_ path: String) throws(CLIError) {
        if path == "-" {
            fd = STDIN_FILENO
            name = "standard input"
            owned = false
        } else {
            let opened = open(path, O_RDONLY | O_CLOEXEC)
            guard opened >= 0 else { throw CLIError(.failure, IOError("cannot open \(path)").description) }
            fd = opened
            name = path
            owned = true
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = IOError("cannot stat \(name)")
            if owned { Glibc.close(fd) }
            throw CLIError(.failure, error.description)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            if owned { Glibc.close(fd) }
            throw CLIError(.failure, "\(name) is a directory")
        }
        if (info.st_mode & S_IFMT) == S_IFREG {
            let position = lseek(fd, 0, SEEK_CUR)
            size = max(0, Int(info.st_size) - max(0, Int(position)))
        } else {
            size = nil
        }
    }

    func close() {
        if owned { Glibc.close(fd) }
    }
}
