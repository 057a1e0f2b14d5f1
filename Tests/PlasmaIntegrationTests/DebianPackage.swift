import Foundation
import Glibc

/// A program the tests need that a fresh machine may lack (etcd, openssl): installed with apt-get when
/// the tests run as root, as CI's do; otherwise the test fails saying what to install.
enum DebianPackage {
    /// Outcomes by binary; one apt-get at a time (tests start in parallel, and two apt-gets at once
    /// would fight over dpkg's lock).
    private static let lock = NSLock()
    nonisolated(unsafe) private static var outcomes: [String: Result<Void, Failure>] = [:]

    /// Makes sure `binary` exists, installing `package` if it doesn't (once per test process).
    static func ensure(binary: String, package: String) throws {
        lock.lock()
        defer { lock.unlock() }
        if outcomes[binary] == nil { outcomes[binary] = Result { () throws(Failure) in try install(binary: binary, package: package) } }
        try outcomes[binary]!.get()
    }

    private static func install(binary: String, package: String) throws(Failure) {
        if FileManager.default.isExecutableFile(atPath: binary) { return }
        guard geteuid() == 0 else {
            throw Failure("\(binary) is not installed and the tests don't run as root: apt-get install \(package)")
        }
        for arguments in [["update", "-qq"], ["install", "-y", "-qq", package]] {
            let apt = Process()
            apt.executableURL = URL(fileURLWithPath: "/usr/bin/apt-get")
            apt.arguments = arguments
            apt.environment = ProcessInfo.processInfo.environment.merging(["DEBIAN_FRONTEND": "noninteractive"]) { $1 }
            apt.standardOutput = FileHandle.nullDevice
            do {
                try apt.run()
            } catch {
                throw Failure("apt-get \(arguments.joined(separator: " ")): \(error)")
            }
            apt.waitUntilExit()
        }
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw Failure("apt-get install \(package) did not install \(binary)")
        }
    }
}
