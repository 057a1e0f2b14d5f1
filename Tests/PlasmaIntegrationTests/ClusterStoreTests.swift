#if Cluster
import Foundation
import Glibc
import Testing

extension IntegrationTests {
    /// `plasma-store --cluster …` processes and `plasma cluster` against a real etcd.
    @Suite struct ClusterStoreTests {
        typealias PlasmaRun = IntegrationTests.PlasmaRun

        /// A token file of mode `mode` in a fresh temporary path.
        func tokenFile(mode: mode_t = 0o600, contents: String = "a cluster secret of 32 bytes....\n") throws -> String {
            let path = NSTemporaryDirectory() + "plasma-token-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try contents.write(toFile: path, atomically: false, encoding: .utf8)
            chmod(path, mode)
            return path
        }

        func clusterArguments(_ url: String, node: String, port: Int, token: String, ttl: Int = 60) -> [String] {
            ["--cluster", url, "--node-name", node, "--transfer-address", "127.0.0.1:\(port)",
             "--cluster-token-file", token, "--cluster-lease-ttl", String(ttl)]
        }

        /// Runs a store expected to refuse to start: its exit status and what it wrote to stderr.
        func refusedStart(socket: String, _ arguments: [String]) throws -> (status: Int32, log: String) {
            let store = Process()
            let errors = Pipe()
            store.executableURL = BuiltProducts.url("plasma-store")
            store.arguments = ["--memory", "8M", "--socket", socket] + arguments
            store.standardError = errors
            store.standardOutput = FileHandle.nullDevice
            try store.run()
            let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            store.waitUntilExit()
            return (store.terminationStatus, log)
        }

        func listed(_ url: String) throws -> [[String: Any]] {
            let run = try PlasmaRun(["cluster", "--cluster", url, "--json"], socket: nil).finish()
            #expect(run.status == 0, "plasma cluster: \(run.err)")
            return try JSONSerialization.jsonObject(with: run.stdout) as? [[String: Any]] ?? []
        }

        @Test func twoStoresRegisterAndPlasmaClusterListsThemUntilOneStops() throws {
            let etcd = try EtcdProcess()
            let url = etcd.url()
            let token = try tokenFile()
            defer { unlink(token) }
            // Ports the kernel hands out: a fixed one may be taken by another test run on the machine.
            let (portA, portB) = (Int(try freeLoopbackPort()), Int(try freeLoopbackPort()))
            let a = try StoreProcess(memory: "64M", arguments: clusterArguments(url, node: "a", port: portA, token: token))
            let b = try StoreProcess(memory: "32M", arguments: clusterArguments(url, node: "b", port: portB, token: token))
            #expect(a.log.contains("registered in etcd as a"), "\(a.log)")
            let nodes = try listed(url)
            #expect(nodes.map { $0["name"] as? String } == ["a", "b"])
            #expect(nodes.map { $0["transfer_address"] as? String } == ["127.0.0.1:\(portA)", "127.0.0.1:\(portB)"])
            #expect(nodes.map { ($0["capacity_bytes"] as? NSNumber)?.int64Value } == [64 << 20, 32 << 20])

            let table = try PlasmaRun(["cluster"], socket: nil, environment: ["PLASMA_CLUSTER": url]).finish()
            #expect(table.status == 0)
            #expect(table.out.contains("127.0.0.1:\(portB)") && table.out.contains("64.0 MiB (67108864 bytes)"), "\(table.out)")

            // SIGTERM: the lease (60 s) is revoked as the store stops, so the node is gone at once.
            #expect(a.stop() == 0)
            #expect(a.log.contains("lease") && a.log.contains("revoked"), "\(a.log)")
            #expect(try listed(url).map { $0["name"] as? String } == ["b"])
            _ = b
        }

        @Test func aSecondStoreUnderALiveNodesNameIsRefusedButTheSameStoreRestartedIsNot() throws {
            let etcd = try EtcdProcess()
            let url = etcd.url()
            let token = try tokenFile()
            defer { unlink(token) }
            let port = Int(try freeLoopbackPort())
            let first = try StoreProcess(memory: "16M", arguments: clusterArguments(url, node: "a", port: port, token: token))

            // Another store (another transfer address) under the same name: refused, the first untouched.
            let other = Int(try freeLoopbackPort())
            do {
                _ = try StoreProcess(memory: "16M", arguments: clusterArguments(url, node: "a", port: other, token: token))
                Issue.record("a second store under the name a started")
            } catch {
                #expect("\(error)".contains("another store is registered as node 'a'"), "\(error)")
            }
            #expect(try listed(url).map { $0["transfer_address"] as? String } == ["127.0.0.1:\(port)"])

            // The same store killed (its 60 s lease still alive) and started again: it takes its name back.
            kill(first.process.processIdentifier, SIGKILL)  // not SIGTERM, which would revoke the lease
            first.process.waitUntilExit()
            let again = try StoreProcess(memory: "16M", arguments: clusterArguments(url, node: "a", port: port, token: token))
            #expect(again.log.contains("registered in etcd as a"), "\(again.log)")
            #expect(try listed(url).map { $0["name"] as? String } == ["a"])
        }

        @Test func aStoreThatCannotReachEtcdRefusesToStart() throws {
            let token = try tokenFile()
            defer { unlink(token) }
            let nobody = try freeLoopbackPort()
            let socket = uniqueSocketPath()
            let (status, log) = try refusedStart(socket: socket, clusterArguments("etcd://127.0.0.1:\(nobody)", node: "a", port: 7423, token: token))
            #expect(status != 0)
            #expect(log.contains("cannot join the cluster") && log.contains("etcd unreachable"), "\(log)")
            #expect(!log.contains("plasma-store ready"))
            #expect(access(socket, F_OK) != 0, "a store that refused to start left its socket file")
        }

        @Test(arguments: [
            (mode_t(0o640), "a cluster secret of 32 bytes....", "chmod 600"),
            (mode_t(0o604), "a cluster secret of 32 bytes....", "chmod 600"),
            (mode_t(0o600), "\n", "is empty"),
            (mode_t(0o600), "secret\n", "holds 6 bytes: a cluster token needs at least 16"),
        ])
        func aTokenFileOthersCanReadOrAnEmptyOrShortOneIsRefused(_ mode: mode_t, _ contents: String, _ reason: String) throws {
            let token = try tokenFile(mode: mode, contents: contents)
            defer { unlink(token) }
            let (status, log) = try refusedStart(socket: uniqueSocketPath(), clusterArguments("etcd://127.0.0.1:1", node: "a", port: 7424, token: token))
            #expect(status != 0)
            #expect(log.contains(reason), "\(log)")
        }

        @Test func clusterFlagsWithoutClusterOrWithoutTheirPartnersAreUsageErrors() throws {
            for (arguments, message) in [
                (["--node-name", "a"], "need --cluster"),
                (["--cluster", "etcd://127.0.0.1:2379", "--cluster-token-file", "/nonexistent"], "--transfer-address"),
                (["--cluster", "etcd://127.0.0.1:2379", "--transfer-address", "127.0.0.1:7420"], "--cluster-token-file"),
                (["--cluster", "http://127.0.0.1:2379"], "etcd://"),
                (["--etcd-user", "store"], "need an etcd URL (--cluster)"),
                (["--cluster", "etcd://127.0.0.1:2379", "--etcd-ca-file", "/ca.crt"], "--etcd-ca-file need an etcds:// URL"),
                (["--cluster", "etcds://127.0.0.1:2379", "--etcd-cert-file", "/c.crt"], "--etcd-cert-file and --etcd-key-file go together"),
                (["--cluster", "etcd://127.0.0.1:2379", "--etcd-user", "store"], "--etcd-user and --etcd-password-file go together"),
            ] {
                let store = Process()
                let errors = Pipe()
                store.executableURL = BuiltProducts.url("plasma-store")
                store.arguments = ["--memory", "8M", "--socket", uniqueSocketPath()] + arguments
                store.standardError = errors
                store.standardOutput = FileHandle.nullDevice
                try store.run()
                let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                store.waitUntilExit()
                #expect(store.terminationStatus != 0, "\(arguments)")
                #expect(log.contains(message), "\(arguments): \(log)")
            }
        }
    }
}
#endif
