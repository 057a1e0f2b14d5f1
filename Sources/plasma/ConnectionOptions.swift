import ArgumentParser
import PlasmaClient

/// `--socket` and `--trust-store-uid`, shared by every subcommand.
struct ConnectionOptions: ParsableArguments {
    @Option(name: [.customLong("socket"), .customShort("s")],
            help: ArgumentHelp("The store's Unix socket. Default: $PLASMA_STORE_SOCKET, else /tmp/plasma.sock.", valueName: "path"))
    var socket: String?

    @Option(name: .customLong("trust-store-uid"),
            help: ArgumentHelp("Also talk to a store run by this uid, or by anyone with 'any' (repeatable). By default only a store run by your own user or root is trusted. Replaces $PLASMA_TRUSTED_STORE_UID.", valueName: "uid|any"))
    var trustStoreUID: [String] = []

    func validate() throws {
        for value in trustStoreUID where StoreTrust.parse(value) == nil || value.contains(",") {
            throw ValidationError("invalid --trust-store-uid '\(value)': give a uid or 'any'")
        }
    }

    /// Whose store to talk to: the flags when given, else nil (the client reads the environment).
    var trust: StoreTrust? {
        guard !trustStoreUID.isEmpty else { return nil }
        if trustStoreUID.contains("any") { return .anyone }
        return StoreTrust(users: Set(trustStoreUID.compactMap { UInt32($0) }))
    }

    var socketPath: String {
        if let socket, !socket.isEmpty { return socket }
        return PlasmaClient.defaultSocketPath
    }

    /// Connects once, without retrying: a script learns at once (exit 6) that no store is there.
    func connect(_ name: String) throws(CLIError) -> PlasmaClient {
        do {
            // No spinning: a command-line tool makes a few round trips and shouldn't burn CPU for them.
            return try PlasmaClient(socketPath: socketPath, name: name, spin: .zero, trust: trust)
        } catch {
            switch error {
            case .cannotConnect: throw CLIError(.cannotConnect, ConnectHint.describe(error))
            case .untrustedStore: throw CLIError(.cannotConnect, error.description)
            case .invalidTrust: throw CLIError(.usage, error.description)
            default: throw CLIError(.cannotConnect, "cannot connect to a plasma store at \(socketPath): \(error)")
            }
        }
    }
}
