import PlasmaClient

/// The cannot-connect message, with what to do next: when nobody serves the socket, the command that
/// starts a store there; when the socket refuses us, how its owner shares it.
enum ConnectHint {
    static func describe(_ error: PlasmaClientError) -> String {
        guard case .cannotConnect(let path, let reason) = error else { return error.description }
        if reason.contains("ENOENT") || reason.contains("ECONNREFUSED") {
            let socket = path == PlasmaClient.defaultSocketPath ? "" : " --socket \(path)"
            return "\(error). No store is running there; start one with: plasma-store --memory 2G\(socket)"
        }
        if reason.contains("EACCES") {
            return "\(error). The socket's permissions keep this user out; the store's owner can share it with: plasma-store --socket-group GROUP"
        }
        return error.description
    }
}
