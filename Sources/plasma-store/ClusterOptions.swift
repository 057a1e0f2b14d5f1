import ArgumentParser
import Glibc
import PlasmaClusterCore
import PlasmaToolSupport

/// The `--cluster` flags. Without `--cluster` none of the others may be given and nothing extra runs.
struct ClusterOptions: ParsableArguments {
    @Option(name: .customLong("cluster"),
            help: ArgumentHelp("Join a cluster of stores coordinated by etcd: etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (default prefix /swift-plasma/).", valueName: "url"))
    var cluster: String?

    @Option(name: .customLong("node-name"),
            help: ArgumentHelp("This store's name in the cluster, unique among its nodes. Default: the host name.", valueName: "name"))
    var nodeName: String?

    @Option(name: .customLong("transfer-address"),
            help: ArgumentHelp("host:port where peers pull objects from this store (required with --cluster; bound only there).", valueName: "host:port"))
    var transferAddress: String?

    @Option(name: .customLong("cluster-token-file"),
            help: ArgumentHelp("File holding the cluster's shared secret (required with --cluster; readable by its owner only).", valueName: "path"))
    var clusterTokenFile: String?

    @Option(name: .customLong("cluster-lease-ttl"),
            help: ArgumentHelp("Seconds this store's registration, wants and locations outlive it when it stops answering etcd.", valueName: "seconds"))
    var clusterLeaseTTL = 5

    @Option(name: .customLong("cluster-inline-max"),
            help: ArgumentHelp("Objects up to this many bytes (data + metadata, at most 65536) travel inside their location record in etcd, signed with the cluster token, so that a peer copies them without a pull; 0: every copy is pulled.", valueName: "bytes"))
    var clusterInlineMax = 1024

    @OptionGroup(title: "etcd security (TLS with an etcds:// URL, and etcd users)")
    var etcdSecurity: EtcdSecurityOptions

    func validate() throws {
        try etcdSecurity.validate(url: cluster)
        guard let cluster else {
            let stray = [("--node-name", nodeName), ("--transfer-address", transferAddress), ("--cluster-token-file", clusterTokenFile)]
                .filter { $0.1 != nil }.map(\.0)
            if !stray.isEmpty { throw ValidationError("\(stray.joined(separator: ", ")) need --cluster") }
            return
        }
        if let problem = ClusterSettings.urlProblem(cluster) { throw ValidationError("invalid --cluster '\(cluster)': \(problem)") }
        if let nodeName, ClusterSettings.nameProblem(nodeName) != nil {
            throw ValidationError("invalid --node-name '\(nodeName)': \(ClusterSettings.nameProblem(nodeName)!)")
        }
        guard let transferAddress else { throw ValidationError("--cluster needs --transfer-address host:port (where peers pull objects from)") }
        if !ClusterSettings.isHostPort(transferAddress) {
            throw ValidationError("invalid --transfer-address '\(transferAddress)': give host:port, e.g. 10.0.0.1:7420")
        }
        guard clusterTokenFile != nil else { throw ValidationError("--cluster needs --cluster-token-file PATH (the cluster's shared secret)") }
        guard (1...3600).contains(clusterLeaseTTL) else { throw ValidationError("--cluster-lease-ttl takes 1 to 3600 seconds") }
        guard (0...ClusterSettings.maximumInlineCopyBytes).contains(clusterInlineMax) else {
            throw ValidationError("--cluster-inline-max takes 0 to \(ClusterSettings.maximumInlineCopyBytes) bytes")
        }
    }

    /// The settings, with the token read, or nil without `--cluster`.
    func settings(capacityBytes: Int) throws(ClusterSettingsError) -> ClusterSettings? {
        guard let cluster, let transferAddress, let clusterTokenFile else { return nil }
        let name: String
        if let nodeName { name = nodeName } else { name = try ClusterSettings.hostName() }
        if let problem = ClusterSettings.nameProblem(name) { throw .invalid("the host name '\(name)' can't name a node (\(problem)): give --node-name") }
        return ClusterSettings(
            url: cluster, nodeName: name, transferAddress: transferAddress,
            token: try ClusterSettings.readToken(clusterTokenFile), leaseTTL: clusterLeaseTTL,
            capacityBytes: Int64(capacityBytes), etcdSecurity: etcdSecurity, inlineCopyMaximumBytes: clusterInlineMax)
    }
}
