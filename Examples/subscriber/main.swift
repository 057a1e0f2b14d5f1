// The README's subscription example as a complete program: it subscribes to one object, another client
// seals it, and the loop prints the events until the seal.
import PlasmaClient

let client = try AsyncPlasmaClient()
let id = ObjectID.random()
let producer = Task {
    try await AsyncPlasmaClient().put(id, bytes: Array("hello".utf8))
}

for try await event in client.events(for: [id]) {   // or events(prefix: [0xAB]), allEvents()
    switch event {
    case .sealed(let id, let dataSize, _): print("sealed", id, dataSize)
    case .deleted, .evicted, .aborted: print(event)
    case .overflow: break                             // fell behind: resync with list / contains
    }
    if case .sealed = event { break }                 // leaving the loop unsubscribes
}
try await producer.value
