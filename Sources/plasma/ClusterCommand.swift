import ArgumentParser
import Glibc
import PlasmaClusterCore
import PlasmaCore
import PlasmaToolSupport
#if Cluster
import PlasmaEtcd
#endif

/// `plasma cluster`: the nodes registered in the cluster's etcd.
struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "List the stores of a cluster: name, transfer address, capacity.",
        discussion: """
            Reads the nodes registered in etcd (each under its store's lease: a store that stopped or \
            stopped answering is gone within its --cluster-lease-ttl). It talks to etcd, not to a store. \
            --json prints an array of objects: name, transfer_address, capacity_bytes.
            """)

    @Option(name: .customLong("cluster"),
            help: ArgumentHelp("etcd://HOST:PORT[,HOST:PORT...][/PREFIX], as given to plasma-store. Default: $PLASMA_CLUSTER.", valueName: "url"))
    var cluster: String?

    @Flag(help: "Print a JSON array with exact numbers instead of a table.")
    var json = false

    @OptionGroup(title: "etcd security (TLS with an etcds:// URL, and etcd users)")
    var etcdSecurity: EtcdSecurityOptions

    func validate() throws {
        try etcdSecurity.validate(url: cluster ?? ProcessEnvironmentValue.get("PLASMA_CLUSTER"))
    }

    func run() throws {
        guard let url = cluster ?? ProcessEnvironmentValue.get("PLASMA_CLUSTER") else {
            throw CLIError(.usage, "cluster: give --cluster etcd://HOST:PORT or set PLASMA_CLUSTER")
        }
        let nodes = try Self.nodes(url, etcdSecurity)
        if json {
            print(JSON.array(nodes.map { node in
                JSON.object([
                    ("name", .string(node.name)), ("transfer_address", .string(node.transferAddress)),
                    ("capacity_bytes", .int(node.capacityBytes)),
                ])
            }).rendered(indent: 0))
        } else {
            let rows = nodes.map { [$0.name, $0.transferAddress, "\(ByteCount.format(Int($0.capacityBytes))) (\($0.capacityBytes) bytes)"] }
            print(Table(header: ["NODE", "TRANSFER ADDRESS", "CAPACITY"]).render(rows))
        }
    }

    static func nodes(_ url: String, _ flags: EtcdSecurityOptions) throws(CLIError) -> [ClusterNode] {
        #if Cluster
        let endpoints: EtcdEndpoints
        let security: EtcdSecurity
        do {
            endpoints = try EtcdEndpoints(url: url)
            security = try EtcdSecurity(
                trustedCAFile: flags.trustedCAFile, certificateFile: flags.certificateFile, privateKeyFile: flags.privateKeyFile,
                user: flags.user, passwordFile: flags.passwordFile)
        } catch {
            throw CLIError(.usage, "cluster: \(error)")
        }
        if let warning = security.warning(with: endpoints) { PlasmaCommand.warn(warning) }
        do {
            return try runBlocking { try await EtcdDirectory.nodes(endpoints: endpoints, security: security) }
        } catch EtcdError.unreachable(let reason) {
            throw CLIError(.cannotConnect, "cluster: cannot reach etcd at \(url): \(reason)")
        } catch {
            throw CLIError(.failure, "cluster: \(error)")
        }
        #else
        throw CLIError(.failure, "cluster: this plasma was built without the Cluster trait")
        #endif
    }
}

#if Cluster
/// @unchecked: written once by the task before `done.signal()`, read after `done.wait()`.
#endif

/// A non-empty environment variable.
enum ProcessEnvironmentValue {
    static func get(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let value = String(cString: raw)
        return value.isEmpty ? nil : value
    }
}
