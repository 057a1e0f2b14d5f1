#if Cluster
import Foundation
import Glibc
@testable import PlasmaEtcd
import Synchronization
import Testing

extension IntegrationTests {
    /// `EtcdClient` against a real etcd that asks for TLS with client certificates, and for an etcd user.
    @Suite struct EtcdSecurityTests {
        /// A put, a range and a watch that sees a put, under `prefix`: what the directory does.
        func exercise(_ client: EtcdClient, prefix: String) async throws {
            try await client.put(prefix + "a", value: [1])
            let (keys, revision) = try await client.range(prefix, prefix: true)
            #expect(keys.map(\.key) == [prefix + "a"])
            let seen = Mutex<[String]>([])
            let watching = Task {
                try await client.watch(prefix: prefix, startRevision: revision + 1) { batch in
                    seen.withLock { $0 += batch.events.map(\.keyValue.key) }
                }
            }
            defer { watching.cancel() }
            try await client.put(prefix + "b", value: [2])
            #expect(try await eventually { seen.withLock { $0 } == [prefix + "b"] }, "watch saw \(seen.withLock { $0 })")
            let lease = try await client.grantLease(ttl: 30)
            #expect(try await client.keepAlive(lease: lease) > 0)
            try await client.revokeLease(lease)
        }

        /// The `EtcdError` `body` throws, or nil (another error is recorded as an issue).
        func etcdError(_ body: () async throws -> Void) async -> EtcdError? {
            do {
                try await body()
            } catch let error as EtcdError {
                return error
            } catch {
                Issue.record("not an EtcdError: \(error)")
            }
            return nil
        }

        @Test func tlsWithAClientCertificateReachesEtcdAndEveryOtherWayIsRefused() async throws {
            let certificates = try TestCertificates()
            let etcd = try EtcdProcess(tls: certificates)
            let endpoints = try EtcdEndpoints(url: etcd.url(prefix: "tls"))
            #expect(endpoints.usesTLS)
            let files = EtcdSecurity.TLSFiles(
                trustedCAFile: certificates.authority, certificateFile: certificates.clientCertificate,
                privateKeyFile: certificates.clientKey)
            try await exercise(EtcdClient(endpoints: endpoints, security: EtcdSecurity(tls: files)), prefix: "/tls/")

            // etcd checks clients (--client-cert-auth): no certificate, no answer.
            let anonymous = EtcdClient(endpoints: endpoints, security: EtcdSecurity(tls: .init(trustedCAFile: certificates.authority)))
            let refused = await etcdError { _ = try await anonymous.range("/tls/", prefix: true) }
            guard case .unreachable = refused else { Issue.record("without a client certificate: \(String(describing: refused))"); return }
            // The client checks etcd: a certificate from a CA it doesn't trust is refused, and says so.
            var otherFiles = files
            otherFiles.trustedCAFile = certificates.otherAuthority
            let doubting = EtcdClient(endpoints: endpoints, security: EtcdSecurity(tls: otherFiles))
            let untrusted = await etcdError { _ = try await doubting.range("/tls/", prefix: true) }
            guard case .unreachable(let reason) = untrusted, reason.contains("TLS") else {
                Issue.record("etcd's certificate from another CA: \(String(describing: untrusted))"); return
            }
            // Plain HTTP to the TLS port gets no etcd answer (Go answers 400 and closes).
            let plain = EtcdClient(endpoints: EtcdEndpoints(hosts: endpoints.hosts, keyPrefix: "/tls/"))
            let plainRefusal = await etcdError { _ = try await plain.range("/tls/", prefix: true) }
            guard case .unreachable = plainRefusal else { Issue.record("plain HTTP to the TLS port: \(String(describing: plainRefusal))"); return }

            // Settings that can't work fail every request with the reason, before any connection.
            var missing = files
            missing.trustedCAFile = certificates.directory + "/no-such-ca.crt"
            let unreadable = await etcdError { _ = try await EtcdClient(endpoints: endpoints, security: EtcdSecurity(tls: missing)).range("/tls/", prefix: true) }
            guard case .invalidSecurity(let detail) = unreadable, detail.contains("no-such-ca.crt") else {
                Issue.record("a missing CA file: \(String(describing: unreadable))"); return
            }
            let plainWithFiles = EtcdClient(endpoints: EtcdEndpoints(hosts: endpoints.hosts), security: EtcdSecurity(tls: files))
            #expect(await etcdError { _ = try await plainWithFiles.range("/", prefix: true) } == .invalidSecurity("TLS files are given but the URL is not etcds://"))
        }

        /// etcd's two kinds of auth token, and what makes etcd refuse one the client holds: simple tokens
        /// are forgotten when authentication is turned off and on; a JWT carries the auth store's revision
        /// and is refused once users or roles change anywhere ("revision of auth store is old", code 3).
        @Test(arguments: ["simple", "jwt"])
        func anEtcdUserAuthenticatesAndDoesSoAgainWhenEtcdRefusesItsToken(_ tokens: String) async throws {
            let keys = tokens == "jwt" ? try TestCertificates() : nil
            let etcd = try EtcdProcess(jwtKeys: keys)
            let refuseHeldTokens = tokens == "jwt" ? etcd.changeAuthentication : etcd.revokeEveryToken
            let endpoints = try EtcdEndpoints(url: etcd.url(prefix: "team"))
            try etcd.enableAuthentication(user: "store", password: "store's password", prefix: "/team/")
            let passwordFile = try privateFile("store's password")
            defer { unlink(passwordFile) }
            let user = try EtcdSecurity.User(name: "store", passwordFile: passwordFile)
            let client = EtcdClient(endpoints: endpoints, security: EtcdSecurity(user: user))
            try await exercise(client, prefix: "/team/")
            #expect(client.authentications.withLock { $0 } == 1)

            // etcd refuses the held token: the client authenticates again, once, and the request succeeds.
            let stale = try #require(client.authToken.withLock { $0 })
            try refuseHeldTokens()
            #expect(try etcd.post("/v3/kv/range", body: ["key": Data("/team/a".utf8).base64EncodedString()], token: stale).status != 200)
            #expect(try await client.range("/team/", prefix: true).keys.count == 2)
            #expect(client.authentications.withLock { $0 } == 2)
            #expect(client.authToken.withLock { $0 } != stale)

            // A watch with a refused token ends saying so and drops it; the next one authenticates again.
            try refuseHeldTokens()
            let finished = Mutex<EtcdError??>(nil)
            let watching = Task {
                let refusal = await etcdError { try await client.watch(prefix: "/team/", startRevision: 0) { _ in } }
                finished.withLock { $0 = refusal }
            }
            // Bounded: a watch whose refused token were accepted would run until cancelled.
            let ended = try await eventually(timeout: 30) { finished.withLock { $0 } != nil }
            watching.cancel()
            let refusal = finished.withLock { $0 } ?? nil
            #expect(ended && refusal?.refusesToken == true, "a watch with a refused token: \(String(describing: refusal))")
            #expect(client.authToken.withLock { $0 } == nil)
            try await exercise(client, prefix: "/team/again/")
            #expect(client.authentications.withLock { $0 } == 3)

            // Outside its role's prefix, and without a user, and with a wrong password: refused, saying why.
            let outside = await etcdError { try await client.put("/elsewhere", value: [1]) }
            #expect(outside.map { "\($0)" }?.contains("permission denied") == true, "\(String(describing: outside))")
            #expect(outside?.refusesToken == false)
            let anonymous = await etcdError { _ = try await EtcdClient(endpoints: endpoints).range("/team/", prefix: true) }
            #expect(anonymous.map { "\($0)" }?.contains("user name is empty") == true, "\(String(describing: anonymous))")
            let wrong = EtcdClient(endpoints: endpoints, security: EtcdSecurity(user: .init(name: "store", password: "not it")))
            let refused = await etcdError { _ = try await wrong.range("/team/", prefix: true) }
            guard case .server(_, let message) = refused, message.contains("authenticating as etcd user 'store'"),
                  !message.contains("not it") else {
                Issue.record("a wrong password: \(String(describing: refused))"); return
            }

            // The password file follows the token file's rule: its owner's only. Nothing prints the password.
            let shared = try privateFile("store's password", mode: 0o644)
            defer { unlink(shared) }
            #expect(throws: EtcdError.invalidSecurity("etcd password file \(shared) is accessible by group or others (mode 644): run chmod 600 \(shared)")) {
                try EtcdSecurity.User(name: "store", passwordFile: shared)
            }
            var dumped = ""
            dump(EtcdSecurity(user: user), to: &dumped)
            #expect("\(user)" == "etcd user 'store'" && !dumped.contains("password'") && !dumped.contains("store's password"), "\(dumped)")
            #expect(EtcdSecurity(user: user).warning(with: endpoints)?.contains("in clear") == true)
        }

        @Test func storesJoinOverTLSAsAnEtcdUserAndAnObjectCrossesBetweenThem() throws {
            let certificates = try TestCertificates()
            let etcd = try EtcdProcess(tls: certificates)
            let url = etcd.url(prefix: "secure")
            try etcd.enableAuthentication(user: "store", password: "store's password", prefix: "/secure/")
            let (password, token) = (try privateFile("store's password"), try CrossNodeCluster.tokenFile("the cluster's shared secret"))
            defer { unlink(password); unlink(token) }
            let security = [
                "--etcd-ca-file", certificates.authority, "--etcd-cert-file", certificates.clientCertificate,
                "--etcd-key-file", certificates.clientKey, "--etcd-user", "store", "--etcd-password-file", password,
            ]
            func start(_ name: String) throws -> StoreProcess {
                try StoreProcess(memory: "32M", arguments: [
                    "--cluster", url, "--node-name", name, "--transfer-address", "127.0.0.1:\(try freeLoopbackPort())",
                    "--cluster-token-file", token,
                ] + security)
            }
            let (a, b) = (try start("a"), try start("b"))
            let id = seededID(0x7_15)
            let waiting = backgroundGet(b, id, timeout: .seconds(60), size: 4096, seeds: [9])
            #expect(try eventually(timeout: 30) { try b.stats().pendingGets == 1 })
            try a.putSeeded(id, size: 4096, seed: 9)
            #expect(try waiting.value(timeout: 90) == .seededBytes(seed: 9))

            let listed = try PlasmaRun(["cluster", "--cluster", url, "--json"] + security, socket: nil).finish()
            #expect(listed.status == 0, "\(listed.err)")
            let names = (try? JSONSerialization.jsonObject(with: listed.stdout) as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(names == ["a", "b"], "\(listed.out)")
            // Without the CA that signed etcd's certificate the CLI can't reach it, and says why.
            let untrusted = try PlasmaRun(["cluster", "--cluster", url] + security.dropFirst(2), socket: nil).finish()
            #expect(untrusted.status != 0 && untrusted.err.contains("TLS"), "\(untrusted.err)")
            // A store with a wrong password refuses to start, saying so, and no log shows a password.
            let wrong = try privateFile("not the password")
            defer { unlink(wrong) }
            var refusedArguments = ["--cluster", url, "--node-name", "c", "--transfer-address", "127.0.0.1:\(try freeLoopbackPort())", "--cluster-token-file", token]
            refusedArguments += security.dropLast() + [wrong]
            do {
                _ = try StoreProcess(memory: "8M", arguments: refusedArguments)
                Issue.record("a store with a wrong etcd password started")
            } catch {
                let said = "\(error)"
                #expect(said.contains("authenticating as etcd user 'store'") && !said.contains("not the password"), "\(said)")
            }
            _ = (a.stop(), b.stop())
            #expect(![a.log, b.log].contains { $0.contains("store's password") })
        }
    }
}
#endif
