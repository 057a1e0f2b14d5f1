import ArgumentParser
import PlasmaCore

/// `plasma delete ID…`: deletes objects, one outcome line per id.
struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete objects; print each id's outcome.",
        discussion: """
            Prints one line per id: "<id>  deleted", "<id>  deferred until released" (other clients \
            still hold it; it goes with the last release), "<id>  not found" or "<id>  not sealed". \
            Exits with status 3 when any id was not found, else 1 when any other id could not be \
            deleted, else 0.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("Ids of the objects to delete, 40 hex digits each.", valueName: "id"))
    var ids: [String]

    func validate() throws {
        guard !ids.isEmpty else { throw ValidationError("Missing expected argument '<id> ...'") }
        for id in ids { _ = try parseObjectID(id) }
    }

    func run() throws {
        let objectIDs = try ids.map(parseObjectID)
        let client = try connection.connect("plasma delete")
        let statuses: [PlasmaStatus]
        do {
            statuses = try client.delete(objectIDs)
        } catch {
            throw CLIError(error, doing: "delete")
        }
        var exit = ExitStatus.ok
        for (id, status) in zip(objectIDs, statuses) {
            let outcome: String
            switch status {
            case .ok: outcome = "deleted"
            case .deletionDeferred: outcome = "deferred until released"
            case .objectNotFound:
                outcome = "not found"
                exit = .notFound
            case .objectNotSealed:
                outcome = "not sealed"
                if exit == .ok { exit = .failure }
            default:
                outcome = status.summary
                if exit == .ok { exit = .failure }
            }
            print("\(id.hex)  \(outcome)")
        }
        if exit != .ok { throw ExitCode(exit.rawValue) }
    }
}
