import PlasmaCore

/// The Arrow-capable workloads, in the Arrow dialect through `ArrowClient`. Names, sizes and
/// iterations are those of the native workloads of the same name (Workload.swift).
struct ArrowWorkload: Sendable {
    let name: String
    /// The Arrow requests one operation makes.
    let requests: String
    let prepare: @Sendable (ArrowClient) throws -> [ObjectID]
    let run: @Sendable (ArrowClient, [ObjectID], Int) throws -> Int

    var native: Workload { workloads.first { $0.name == name }! }
}

let arrowWorkloads: [ArrowWorkload] = [
    ArrowWorkload(
        name: "put-small", requests: "Create 64 B + write + Seal + Release",
        prepare: { _ in [] },
        run: { client, _, iterations in
            for _ in 0..<iterations {
                let id = ObjectID.random()
                try client.create(id, dataSize: smallObjectSize).initializeMemory(as: UInt8.self, repeating: 7)
                try client.seal(id)
                try client.release(id)
            }
            return iterations
        }),
    ArrowWorkload(
        name: "put-small-inline", requests: "CreateAndSeal 64 B (8-byte digest)",
        prepare: { _ in [] },
        run: { client, _, iterations in
            let data = [UInt8](repeating: 7, count: smallObjectSize)
            for _ in 0..<iterations { try client.createAndSeal(.random(), data: data) }
            return iterations
        }),
    ArrowWorkload(
        name: "put-batch", requests: "CreateAndSealBatch of \(batchSize) × 64 B",
        prepare: { _ in [] },
        run: { client, _, iterations in
            let data = [UInt8](repeating: 7, count: smallObjectSize)
            for _ in 0..<iterations { try client.createAndSeal(batch: (0..<batchSize).map { _ in .random() }, data: data) }
            return iterations * batchSize
        }),
    ArrowWorkload(
        name: "get-small", requests: "Get (timeout 0) + Release of sealed 64 B objects",
        prepare: { client in
            let ids = (0..<1000).map { _ in ObjectID.random() }
            let data = [UInt8](repeating: 7, count: smallObjectSize)
            for id in ids { try client.createAndSeal(id, data: data) }
            return ids
        },
        run: { client, ids, iterations in
            for index in 0..<iterations {
                let id = ids[index % ids.count]
                guard try client.get([id])[0] != nil else { throw BenchError.missing }
                try client.release(id)
            }
            return iterations
        }),
    ArrowWorkload(
        name: "put-large", requests: "Create 64 MiB + write every byte + Seal + Release + Delete",
        prepare: { _ in
            _ = CopySource.buffer(largeObjectSize)
            return []
        },
        run: { client, _, iterations in
            let source = CopySource.buffer(largeObjectSize)
            for _ in 0..<iterations {
                let id = ObjectID.random()
                try client.create(id, dataSize: largeObjectSize).copyMemory(from: source)
                try client.seal(id)
                try client.release(id)
                try client.delete([id])
            }
            return iterations * largeObjectSize
        }),
    ArrowWorkload(
        name: "get-large", requests: "Get 64 MiB + read every byte + Release",
        prepare: { client in
            let id = ObjectID.random()
            try client.create(id, dataSize: largeObjectSize).initializeMemory(as: UInt8.self, repeating: 5)
            try client.seal(id)
            try client.release(id)
            return [id]
        },
        run: { client, ids, iterations in
            var sum: UInt64 = 0
            for _ in 0..<iterations {
                guard let data = try client.get(ids)[0] else { throw BenchError.missing }
                sum &+= readEveryByte(data)
                try client.release(ids[0])
            }
            guard sum == expectedSum(of: 5, iterations: iterations) else { throw BenchError.missing }
            return iterations * largeObjectSize
        }),
]
