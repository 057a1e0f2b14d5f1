import ArgumentParser
import PlasmaClient
import PlasmaCore

/// The exit statuses of `plasma`, in one place: the help text, the man page and the tests follow it.
///
/// Decision: usage errors keep ArgumentParser's 64 (EX_USAGE from sysexits.h) rather than 2, so that
/// every usage error, including the ones ArgumentParser itself detects (unknown option, missing
/// argument), exits with the same status. 2 is left unused.
enum ExitStatus: Int32, CaseIterable, Sendable {
    case ok = 0
    case failure = 1
    case notFound = 3
    case timedOut = 4
    case storeFull = 5
    case cannotConnect = 6
    case usage = 64

    /// Short enough for one line of `--help` (ArgumentParser wraps at 80 columns).
    var meaning: String {
        switch self {
        case .ok: "success"
        case .failure: "other error (I/O, a refused request, a lost connection)"
        case .notFound: "not found (get without waiting; delete of a missing id)"
        case .timedOut: "timed out (get --timeout expired before the object was sealed)"
        case .storeFull: "store full (put found no space, or the object exceeds capacity)"
        case .cannotConnect: "cannot connect (no store answers, or an untrusted user runs it)"
        case .usage: "usage error (bad option, argument, id, size or duration)"
        }
    }

    /// The exit-status table for `--help`.
    static var helpText: String {
        "Exit status:\n" + allCases.map { "  \($0.rawValue)\($0.rawValue < 10 ? " " : "")  \($0.meaning)" }.joined(separator: "\n")
    }
}

/// A failure `plasma` reports as one `plasma: …` line on stderr before exiting with `status`.
struct CLIError: Error, CustomStringConvertible {
    let status: ExitStatus
    let message: String

    init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    var description: String { message }

    /// Maps a client error to its exit status; `doing` says what was attempted, e.g. `put 1f2e…`.
    init(_ error: PlasmaClientError, doing: String) {
        switch error {
        case .cannotConnect:
            self.init(.cannotConnect, ConnectHint.describe(error))
        case .untrustedStore:
            self.init(.cannotConnect, error.description)
        case .invalidTrust:
            self.init(.usage, error.description)
        case .outOfBounds, .invalidArgument:
            self.init(.failure, error.description)
        case .store(let status, let message):
            let exit: ExitStatus =
                switch status {
                case .outOfMemory, .tooLarge: .storeFull
                case .objectNotFound: .notFound
                case .timedOut: .timedOut
                default: .failure
                }
            self.init(exit, "\(doing): \(message)")
        case .disconnected, .protocolViolation, .cancelled:
            self.init(.failure, "\(doing): \(error)")
        }
    }
}

/// Parses an id argument: exactly 40 hex digits.
func parseObjectID(_ text: String) throws -> ObjectID {
    guard let id = ObjectID(hex: text) else {
        throw ValidationError("invalid object id '\(text)': an id is 40 hex digits (20 bytes)")
    }
    return id
}
