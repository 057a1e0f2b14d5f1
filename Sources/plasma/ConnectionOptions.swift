import ArgumentParser
import PlasmaClient

/// `--socket`, shared by every subcommand.
struct ConnectionOptions: ParsableArguments {
    @Option(name: [.customLong("socket"), .customShort("s")],
            help: ArgumentHelp("The store's Unix socket. Default: $PLASMA_STORE_SOCKET, else /tmp/plasma.sock.", valueName: "path"))
    var socket: String?

    var socketPath: String {
        if let socket, !socket.isEmpty { return socket }
        return PlasmaClient.defaultSocketPath
    }

    /// Connects once, without retrying: a script learns at once (exit 6) that no store is there.
    func connect(_ name: String) throws(CLIError) -> PlasmaClient {
        do {
            // No spinning: a command-line tool makes a few round trips and shouldn't burn CPU for them.
            return try PlasmaClient(socketPath: socketPath, name: name, spin: .zero)
        } catch {
            switch error {
            case .cannotConnect: throw CLIError(.cannotConnect, error.description)
            default: throw CLIError(.cannotConnect, "cannot connect to a plasma store at \(socketPath): \(error)")
            }
        }
    }
}
