import PlasmaCore
import PlasmaPosix

/// What the store tells its service manager (`Type=notify`, docs/OPERATIONS.md), and SIGHUP.
extension StoreServer {
    /// READY=1 once the loop is about to serve: the listener is registered, so a client that connects
    /// from now on is answered. Before it (prefault, the socket claim) systemd holds back units ordered
    /// after the store.
    func announceReady() {
        tellServiceManager { (notifier) throws(SystemError) in try notifier.ready(status: "serving \(ByteCount.format(configuration.capacity)) on \(configuration.socketPath)") }
    }

    /// STOPPING=1 as shutdown begins, so that the manager knows the exit that follows is meant.
    func announceStopping() {
        tellServiceManager { (notifier) throws(SystemError) in try notifier.stopping(status: "stopping: disconnecting \(connections.count) clients") }
    }

    /// STATUS= for `systemctl status`.
    func announceStatus(_ text: String) {
        tellServiceManager { (notifier) throws(SystemError) in try notifier.status(text) }
    }

    /// SIGHUP asks daemons to reopen their log files; the store logs to standard error only (the
    /// journal, under systemd), which has nothing to reopen, and has no configuration file to reread.
    /// A line says so, rather than ignoring the signal silently or dying of it (its default action).
    func hangUpReceived() {
        logger.notice("received SIGHUP: ignored (the log goes to standard error, which needs no reopening, and there is no configuration file to reread; restart the store to change its flags)")
    }

    private func tellServiceManager(_ message: (ServiceNotifier) throws(SystemError) -> Void) {
        guard let notifier = configuration.serviceNotifier else { return }
        do {
            try message(notifier)
        } catch {
            logger.warning("cannot notify the service manager: \(error)")
        }
    }
}
