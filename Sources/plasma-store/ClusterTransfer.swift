import Logging
import PlasmaStore
import PlasmaTransfer
import Synchronization

/// The store's transfer plane while it runs in a cluster (docs/TRANSFER.md): the puller that copies
/// objects from peers into this arena, and the listener that serves this store's objects to them.
/// The puller exists before the server (the server's cluster attachment needs it); the listener after
/// it (it serves through the server's pins).
final class ClusterTransfer: Sendable {
    let settings: ClusterSettings
    let token: ClusterToken
    let puller: TransferPuller
    /// Set once by `listen`; read by the store's `stats` on its loop thread.
    private let listener = Mutex<TransferServer?>(nil)

    init(settings: ClusterSettings, logger: Logger) throws {
        do {
            token = try ClusterToken(bytes: settings.token)
        } catch {
            throw ClusterSettingsError.invalid("--cluster-token-file: \(error)")
        }
        self.settings = settings
        puller = try TransferPuller(configuration: .init(nodeName: settings.nodeName, token: token), logger: logger)
    }

    /// Peers refused so far for a wrong token proof (0 before `listen`).
    var peersRefused: Int { listener.withLock { $0?.authenticationFailures ?? 0 } }

    /// Connections closed so far for want of a place (0 before `listen`).
    var connectionsRefused: Int { listener.withLock { $0?.statistics.connectionsRefusedForPlace ?? 0 } }

    /// Binds `--transfer-address` and serves peers from `server`'s objects.
    func listen(serving server: StoreServer, logger: Logger) throws {
        guard let source = server.transferObjectSource else { return }
        let transferServer = TransferServer(
            configuration: .init(address: settings.transferAddress, nodeName: settings.nodeName, token: token),
            source: source, logger: logger)
        do {
            try transferServer.start()
        } catch {
            throw ClusterSettingsError.invalid("cannot listen on --transfer-address \(settings.transferAddress): \(error)")
        }
        listener.withLock { $0 = transferServer }
    }

    /// Stops serving and pulling. Called after the server's loop has returned: its pins then answer nil
    /// at once, so the listener's threads (which may wait in a pin) end, and no pull writes into the
    /// arena afterwards.
    func stop() {
        listener.withLock { $0 }?.stop()
        puller.stop()
    }
}
