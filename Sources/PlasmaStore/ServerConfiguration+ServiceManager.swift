import Logging
import PlasmaPosix

extension ServerConfiguration {
    /// Takes what a service manager passed in the environment: `$NOTIFY_SOCKET` for readiness, and with socket
    /// activation the listener to serve (its path replaces `--socket`, which then only has to agree).
    public mutating func adoptServiceManager(socketOption: String?, logger: Logger) throws(SocketActivation.Failure) {
        serviceNotifier = ServiceNotifier.fromEnvironment()
        guard let listener = try SocketActivation.inheritedListener() else { return }
        inheritedListener = listener
        let bound = listener.boundPath() ?? "descriptor \(listener.rawValue)"
        if let socketOption, socketOption != bound {
            logger.warning("--socket \(socketOption) ignored: socket activation passed the socket \(bound)")
        }
        socketPath = bound
    }
}
