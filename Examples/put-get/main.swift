// The README's "From Swift" example as a complete program: an object written in place and read back,
// and a small one stored in one round trip. Start a store first:
//     swift run -c release plasma-store --memory 2G
import PlasmaClient

let client = try PlasmaClient()                       // $PLASMA_STORE_SOCKET or /tmp/plasma.sock
let id = ObjectID.random()

// Writer: reserve, write in place, publish. (In a function or a block: a global can't be consumed.)
do {
    let object = try client.create(id, dataSize: 1 << 20, metadata: Array("f32".utf8))
    object.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 1) }
    let sealed = try object.seal()                    // consumes `object`: writing after this won't compile
    try sealed.release()                              // or just drop it
}

// Reader, in any process: waits up to 5 s for someone to seal it.
if let buffer = try client.get(id, timeout: .seconds(5)) {  // nil if not sealed by then
    let sum = buffer.withUnsafeBytes { $0.reduce(0) { $0 + Int($1) } }  // read in place, no copy
    print(buffer.count, buffer.metadataCount, sum)
}                                                     // dropping the buffer releases it

try client.put(.random(), bytes: [1, 2, 3])           // [UInt8], Data, any contiguous bytes
