// Ray's `as_future` example with Swift concurrency, as a complete program: four producer processes each
// take about a second to seal one object; this process awaits all four at once and has them after about
// one second, not four. It starts the producers itself (this program again, as `produce ID`).
import Foundation
import PlasmaClient

if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "produce" {
    let id = ObjectID(hex: CommandLine.arguments[2])!
    try await Task.sleep(for: .seconds(1))            // a second of work
    try await AsyncPlasmaClient().put(id, bytes: Array(id.hex.utf8))
    exit(0)
}

let ids = (0..<4).map { _ in ObjectID.random() }
let started = ContinuousClock.now
let producers = try ids.map { id in
    try Process.run(URL(fileURLWithPath: "/proc/self/exe"), arguments: ["produce", id.hex])
}

let client = try AsyncPlasmaClient()
let results = try await withThrowingTaskGroup(of: ObjectBuffer?.self) { group in
    for id in ids { group.addTask { try await client.get(id, timeout: .seconds(30)) } }  // nil: not in 30 s
    var buffers: [ObjectBuffer] = []
    for try await buffer in group { if let buffer { buffers.append(buffer) } }
    return buffers
}
print("\(results.count) objects after \(ContinuousClock.now - started)")
for producer in producers { producer.waitUntilExit() }
