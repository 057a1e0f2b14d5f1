import Foundation
import Glibc
import PlasmaClient
import PlasmaCore
import Testing

/// Another user to run the store as: `nobody`, through setpriv(1) (util-linux), which execs the store
/// (so the pid the test holds is the store's).
enum OtherUser {
    static let uid: UInt32 = 65534
    static let launcher = ["setpriv", "--reuid", "\(uid)", "--regid", "\(uid)", "--clear-groups"]

    /// Root (which can switch users), setpriv present, and the built store runnable by that user (the
    /// checkout's directories may not be open to it). Decided by trying: `plasma-store --help` as it.
    static let canRunTheStore: Bool = {
        guard geteuid() == 0 else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = launcher + [BuiltProducts.url("plasma-store").path, "--help"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationReason == .exit && process.terminationStatus == 0
    }()
}

extension IntegrationTests {
    /// Clients check who runs the store before they send it anything (SO_PEERCRED): a store run by
    /// another user (an impostor on the default path) is refused unless trusted explicitly.
    @Suite(.enabled(if: OtherUser.canRunTheStore, "needs root and setpriv(1) to run the store as uid 65534"))
    struct PeerTrustTests {
        func storeOfAnotherUser() throws -> StoreProcess {
            try StoreProcess(memory: "8M", arguments: ["--no-prefault"], launcher: OtherUser.launcher)
        }

        @Test func bothClientsRefuseAStoreRunByAnotherUserNamingItsUIDAndHowToAllowIt() throws {
            let store = try storeOfAnotherUser()
            let error = #expect(throws: PlasmaClientError.self) { try PlasmaClient(socketPath: store.socketPath) }
            guard case .untrustedStore(let path, let storeUID, let storePID, let clientUID)? = error else {
                Issue.record("expected untrustedStore, got \(String(describing: error))")
                return
            }
            #expect(path == store.socketPath)
            #expect(storeUID == OtherUser.uid)
            #expect(storePID == store.process.processIdentifier)
            #expect(clientUID == geteuid())
            let message = "\(error!)"
            #expect(message.contains("runs as uid \(OtherUser.uid)"), "\(message)")
            #expect(message.contains("PLASMA_TRUSTED_STORE_UID=\(OtherUser.uid)"), "\(message)")

            let asyncError = #expect(throws: PlasmaClientError.self) { try AsyncPlasmaClient(socketPath: store.socketPath) }
            #expect(asyncError == error)
        }

        @Test func anExplicitTrustAdmitsThatUserOrAnyone() async throws {
            let store = try storeOfAnotherUser()
            let id = ObjectID.random()
            let trusted = try PlasmaClient(socketPath: store.socketPath, trust: StoreTrust(users: [OtherUser.uid]))
            try trusted.createAndSeal(id, data: [1, 2, 3])
            let anyone = try AsyncPlasmaClient(socketPath: store.socketPath, trust: .anyone)
            #expect(try await anyone.get(id)?.copyBytes() == [1, 2, 3])
            // Trusting someone else is no trust in this store's user.
            let error = #expect(throws: PlasmaClientError.self) {
                try PlasmaClient(socketPath: store.socketPath, trust: StoreTrust(users: [OtherUser.uid - 1]))
            }
            #expect(error?.isUntrustedStore == true)
        }

        @Test func theCLIRefusesItExitingWith6UnlessTheEnvironmentOrAFlagTrustsIt() throws {
            let store = try storeOfAnotherUser()
            let refused = try PlasmaRun(["stats"], socket: store.socketPath).finish()
            #expect(refused.status == 6)
            #expect(refused.err.contains("uid \(OtherUser.uid)") && refused.err.contains("--trust-store-uid \(OtherUser.uid)"),
                    "\(refused.err)")

            for value in ["\(OtherUser.uid)", "1000,\(OtherUser.uid)", "any"] {
                let run = try PlasmaRun(["stats"], socket: store.socketPath,
                                        environment: ["PLASMA_TRUSTED_STORE_UID": value]).finish()
                #expect(run.status == 0, "PLASMA_TRUSTED_STORE_UID=\(value): \(run.err)")
            }
            let someoneElse = try PlasmaRun(["stats"], socket: store.socketPath,
                                            environment: ["PLASMA_TRUSTED_STORE_UID": "12345"]).finish()
            #expect(someoneElse.status == 6)
            let typo = try PlasmaRun(["stats"], socket: store.socketPath,
                                     environment: ["PLASMA_TRUSTED_STORE_UID": "nobody"]).finish()
            #expect(typo.status == 64)
            #expect(typo.err.contains("PLASMA_TRUSTED_STORE_UID='nobody'"), "\(typo.err)")

            let flag = try PlasmaRun(["stats", "--trust-store-uid", "\(OtherUser.uid)"], socket: store.socketPath).finish()
            #expect(flag.status == 0, "\(flag.err)")
            // A global option: before the subcommand too; and the flag replaces the variable.
            let leading = try PlasmaRun(["--trust-store-uid", "any", "--socket", store.socketPath, "stats"], socket: nil,
                                        environment: ["PLASMA_TRUSTED_STORE_UID": "12345"]).finish()
            #expect(leading.status == 0, "\(leading.err)")
        }
    }
}

extension PlasmaClientError {
    var isUntrustedStore: Bool {
        if case .untrustedStore = self { return true }
        return false
    }
}
