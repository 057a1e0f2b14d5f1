// The README's "From Swift" example as a complete program: an object written in place and read back,
// and a small one stored in one round trip. Start a store first:
//     swift run -c release plasma-store --memory 2G
import PlasmaClient

let client = try PlasmaClient()                       // $PLASMA_STORE_SOCKET or /tmp/plasma.sock
let id = ObjectID.random()

// Writer: reserve, write in place, publish.
let object = try client.create(id, dataSize: 1 << 20, metadata: Array("f32".utf8))
object.data.initializeMemory(as: UInt8.self, repeating: 1)
try object.seal()
try object.release()                                  // or just drop it

// Reader, in any process: waits up to 5 s for someone to seal it.
if let buffer = try client.get(id, timeout: .timeout(.seconds(5))) {
    print(buffer.data.count, buffer.metadata.count)   // bytes straight from the shared arena
}                                                     // dropping the buffer releases it

try client.createAndSeal(.random(), data: [1, 2, 3])  // small objects: one round trip
