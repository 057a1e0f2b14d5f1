import Dispatch
import Glibc
import Logging
import PlasmaClusterCore
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
        let directory = EtcdDirectory(configuration: EtcdDirectoryConfiguration(
            endpoints: endpoints, node: settings.node, leaseTTL: settings.leaseTTL, logger: logger))
        try blocking { try await directory.start() }
        self.settings = settings
        self.directory = directory
        #else
        throw ClusterSettingsError.invalid("this plasma-store was built without the Cluster trait: --cluster is unavailable")
        #endif
    }

    /// Revokes the lease: this node, its wants and its locations vanish from the cluster at once.
    func leave() {
        let directory = self.directory
        try? blocking { await directory.stop() }
    }
}

/// Runs `body` on the concurrency pool and waits for it on this (non-async) thread.
private func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let box = ResultBox<T>()
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

/// @unchecked: written once by the task before `done.signal()`, read after `done.wait()`.
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
