// A client in its own process, driven by the integration tests: each command does one thing the
// tests need from "another process", prints one line when it reaches its point, and either exits or
// waits to be killed.
import Foundation
import Glibc
import PlasmaClient
import PlasmaCore
import PlasmaPosix

/// The bytes the tests expect for an object: cheap to generate on both sides.
func pattern(size: Int, seed: Int) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) }
}

/// FNV-1a, so that a big object is compared by one printed word.
func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return hash
}

/// One line on stdout, written at once (no stdio buffering: the tests wait for it).
func say(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

func sleepForever() -> Never {
    while true { pause() }
}

func milliseconds(_ text: String) -> Wait {
    let value = Int(text)!
    return value < 0 ? .forever : value == 0 ? .no : .timeout(.milliseconds(value))
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2, let command = arguments.first else {
    say("usage: plasma-test-peer COMMAND SOCKET ARGS…")
    exit(2)
}
let socketPath = arguments[1]
let rest = Array(arguments.dropFirst(2))

func run() throws {
    switch command {
    case "put":  // ID SIZE SEED: create, write the pattern, seal, release
        let client = try PlasmaClient(socketPath: socketPath, retries: 50)
        let object = try client.create(ObjectID(hex: rest[0])!, dataSize: Int(rest[1])!)
        let bytes = pattern(size: Int(rest[1])!, seed: Int(rest[2])!)
        try object.write(bytes)
        try object.seal().release()
        say("sealed")
    case "put-list":  // FILE: create-and-seal one 8-byte object per hex id in FILE, in order
        let client = try PlasmaClient(socketPath: socketPath)
        let text = try String(contentsOfFile: rest[0], encoding: .utf8)
        var count = 0
        for line in text.split(separator: "\n") {
            try client.createAndSeal(ObjectID(hex: line)!, data: [UInt8](repeating: 1, count: 8))
            count += 1
        }
        say("sealed \(count)")
    case "await-all":  // ID…: one task per id awaits it (async client); prints when all have arrived
        let client = try AsyncPlasmaClient(socketPath: socketPath)
        let ids = rest.map { ObjectID(hex: $0)! }
        let done = DispatchSemaphore(value: 0)
        let result = ResultBox()
        Task {
            do {
                let bytes = try await withThrowingTaskGroup(of: Int.self) { group in
                    for id in ids { group.addTask { try await client.get(id)?.count ?? 0 } }
                    return try await group.reduce(0, +)
                }
                result.line = "done \(bytes)"
            } catch {
                result.line = "error \(error)"
            }
            done.signal()
        }
        done.wait()
        say(result.line)
    case "create-writing":  // ID SIZE: create, then keep writing into it until killed
        let client = try PlasmaClient(socketPath: socketPath)
        let object = try client.create(ObjectID(hex: rest[0])!, dataSize: Int(rest[1])!)
        say("writing")
        var value: UInt8 = 0
        while true {
            object.withUnsafeMutableBytes { _ = memset($0.baseAddress!, Int32(value), $0.count) }
            value &+= 1
        }
    case "seal-hold":  // ID SIZE: create, write, seal, keep the creator's reference until killed
        let client = try PlasmaClient(socketPath: socketPath)
        let object = try client.create(ObjectID(hex: rest[0])!, dataSize: Int(rest[1])!)
        object.withUnsafeMutableBytes { _ = memset($0.baseAddress!, 1, $0.count) }
        let sealed = try object.seal()
        say("sealed")
        withExtendedLifetime(sealed) { sleepForever() }
    case "subscribe-hold":  // subscribe to everything and never read the events
        let client = try AsyncPlasmaClient(socketPath: socketPath)
        let events = client.allEvents()
        say("subscribed")
        withExtendedLifetime((client, events)) { sleepForever() }
    case "create-hold":  // ID SIZE: create, write, never seal
        let client = try PlasmaClient(socketPath: socketPath)
        let object = try client.create(ObjectID(hex: rest[0])!, dataSize: Int(rest[1])!)
        object.withUnsafeMutableBytes { _ = memset($0.baseAddress!, 7, $0.count / 2) }
        say("created")
        withExtendedLifetime(object) { sleepForever() }
    case "get":  // ID TIMEOUT_MS: print the checksum of the data, or "missing"
        let client = try PlasmaClient(socketPath: socketPath)
        if let buffer = try client.get(ObjectID(hex: rest[0])!, timeout: milliseconds(rest[1])) {
            say("checksum \(buffer.withUnsafeBytes { checksum($0) }) size \(buffer.count) metadata \(buffer.metadataCount)")
            try buffer.release()
        } else {
            say("missing")
        }
    case "get-hold":  // ID: get and keep the reference until killed
        let client = try PlasmaClient(socketPath: socketPath)
        say("waiting")
        let buffer = try client.get(ObjectID(hex: rest[0])!, timeout: .forever)
        say(buffer == nil ? "missing" : "held")
        withExtendedLifetime(buffer) { sleepForever() }
    case "read-after-release":  // ID: reading a buffer after release() must stop the program, not read
        let client = try PlasmaClient(socketPath: socketPath)
        let buffer = try client.get(ObjectID(hex: rest[0])!, timeout: .no)!
        try buffer.release()
        say("released")
        let first = buffer.withUnsafeBytes { $0.first }
        say("read \(String(describing: first))")
    case "write-to-get":  // ID: a stray write through a get buffer must fault, not corrupt
        let client = try PlasmaClient(socketPath: socketPath)
        let buffer = try client.get(ObjectID(hex: rest[0])!, timeout: .no)!
        say("writing")
        buffer.withUnsafeBytes { UnsafeMutableRawPointer(mutating: $0.baseAddress!).storeBytes(of: 0xFF, as: UInt8.self) }
        say("wrote")
    case "raw":  // HEX [hold]: send raw bytes, then report when the store closes the connection
        let socket = try UnixSocket.connect(path: socketPath)
        var bytes = [UInt8]()
        var hex = Substring(rest[0])
        while hex.count >= 2 {
            bytes.append(UInt8(hex.prefix(2), radix: 16)!)
            hex = hex.dropFirst(2)
        }
        try bytes.withUnsafeBytes { try socket.writeAll($0) }
        if rest.count > 1, rest[1] == "close" {
            socket.close()
            say("sent")
            exit(0)
        }
        if rest.count > 1, rest[1] == "hold" {  // half a frame, then wait to be killed
            say("sent")
            sleepForever()
        }
        var scratch = [UInt8](repeating: 0, count: 4096)
        var descriptors: [Int32] = []
        while try scratch.withUnsafeMutableBytes({ try socket.receive(into: $0, descriptors: &descriptors) }) ?? 0 > 0 {}
        say("closed by store")
    default:
        say("unknown command \(command)")
        exit(2)
    }
}

do {
    try run()
} catch {
    say("error \(error)")
    exit(1)
}

/// Carries the async part's one line back to the main thread.
final class ResultBox: @unchecked Sendable {
    // @unchecked: written once by the task before `signal()`, read after `wait()`.
    var line = ""
}
