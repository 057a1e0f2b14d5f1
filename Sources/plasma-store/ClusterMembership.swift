import Glibc
import Logging
import PlasmaClusterCore
import PlasmaToolSupport
#if Cluster
import PlasmaEtcd
#endif

/// The store's place in its cluster while it runs: the etcd directory, started before the store serves
/// and stopped (lease revoked) when it stops. The coordinator hands `directory` and `settings` (the token
/// and transfer address, for the transfer plane) to the server.
final class ClusterMembership: Sendable {
    let settings: ClusterSettings
    let directory: any ClusterDirectory

    /// Builds the directory and starts it: registered in etcd when this returns.
    init(settings: ClusterSettings, logger: Logger) throws {
        #if Cluster
        // NIO's and the directory's threads must not take SIGTERM/SIGINT/SIGHUP (their default action would
        // kill the store): block them here, on the main thread, before any of those threads exists; threads
        // inherit the mask, and the store's signalfd then receives them.
        var mask = sigset_t()
        sigemptyset(&mask)
        for signal in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&mask, signal) }
        pthread_sigmask(SIG_BLOCK, &mask, nil)
        let endpoints = try EtcdEndpoints(url: settings.url)
        let flags = settings.etcdSecurity
        let security = try EtcdSecurity(
            trustedCAFile: flags.trustedCAFile, certificateFile: flags.certificateFile, privateKeyFile: flags.privateKeyFile,
            user: flags.user, passwordFile: flags.passwordFile)
        if let warning = security.warning(with: endpoints) { logger.warning("\(warning)") }
        let directory = EtcdDirectory(configuration: EtcdDirectoryConfiguration(
            endpoints: endpoints, security: security, node: settings.node, leaseTTL: settings.leaseTTL, logger: logger))
        try runBlocking { try await directory.start() }
        self.settings = settings
        self.directory = directory
        #else
        throw ClusterSettingsError.invalid("this plasma-store was built without the Cluster trait: --cluster is unavailable")
        #endif
    }

    /// Revokes the lease: this node, its wants and its locations vanish from the cluster at once.
    func leave() {
        let directory = self.directory
        try? runBlocking { await directory.stop() }
    }
}
