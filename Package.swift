// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "swift-plasma",
    products: [
        .library(name: "PlasmaClient", targets: ["PlasmaClient"]),
        .library(name: "PlasmaStore", targets: ["PlasmaStore"]),
        .executable(name: "plasma-store", targets: ["plasma-store"]),
        .executable(name: "plasma-bench", targets: ["plasma-bench"]),
        .executable(name: "plasma", targets: ["plasma"]),
    ],
    // `Cluster` (default): the etcd directory (PlasmaEtcd over async-http-client) and the store's --cluster
    // flags. CI's sanitizer builds pass --disable-default-traits so as not to build SwiftNIO twice more.
    traits: [
        .trait(name: "Cluster", description: "Several stores as one object space, coordinated through etcd (docs/CLUSTER.md)."),
        .default(enabledTraits: ["Cluster"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        // `swift package generate-documentation --target PlasmaClient` (the DocC catalog; CI builds it).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // etcd's v3 JSON gateway (PlasmaEtcd); built only with the `Cluster` trait.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // TLS to etcd (`etcds://`): async-http-client's own TLS, configured with NIOSSL's types.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // Thin C: memfd arena, the allocator (metadata outside the arena), SCM_RIGHTS, CMSG macros.
        // Optimised by the build configuration (`-c release`), like every other target: no unsafe flags,
        // so that packages can depend on this one.
        .target(name: "CPlasma"),
        // Typed Swift values over the raw syscalls; the only Swift code that calls libc for I/O.
        .target(
            name: "PlasmaPosix",
            dependencies: ["CPlasma", .product(name: "SystemPackage", package: "swift-system")]
        ),
        // Shared vocabulary: ObjectID, byte sizes, status codes, object info.
        .target(name: "PlasmaCore"),
        // The contracts between a store and its cluster (docs/CLUSTER.md): the etcd directory, the transfer
        // plane and the store meet here, so that none of them depends on another's implementation.
        .target(name: "PlasmaClusterCore", dependencies: ["PlasmaCore"]),
        // The data plane between stores (docs/TRANSFER.md): the transfer listener and the puller, TCP with
        // an HMAC handshake over the cluster token.
        .target(
            name: "PlasmaTransfer",
            dependencies: [
                "PlasmaClusterCore", "PlasmaCore", "PlasmaPosix", "CPlasma",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The etcd side of a cluster: an etcd v3 client over the JSON gateway and the ClusterDirectory on it.
        // Without the `Cluster` trait it compiles to nothing (every file is `#if Cluster`).
        .target(
            name: "PlasmaEtcd",
            dependencies: [
                "PlasmaClusterCore", "PlasmaCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client", condition: .when(traits: ["Cluster"])),
                .product(name: "NIOCore", package: "swift-nio", condition: .when(traits: ["Cluster"])),
                .product(name: "NIOPosix", package: "swift-nio", condition: .when(traits: ["Cluster"])),
                .product(name: "NIOSSL", package: "swift-nio-ssl", condition: .when(traits: ["Cluster"])),
            ]
        ),
        // Framing and the native codec.
        .target(name: "PlasmaWire", dependencies: ["PlasmaCore"]),
        // The object table and its rules, dialect-neutral: commands in, typed outcomes and observer calls
        // out. No sockets, files, logging or wire types; clock, allocator and spill sink are injected.
        .target(
            name: "PlasmaEngine",
            dependencies: [
                "PlasmaCore",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ]
        ),
        // The server: event loop, sockets, the dialect adapters (native, Arrow) over the engine; no CLI.
        .target(
            name: "PlasmaStore",
            dependencies: [
                "CPlasma", "PlasmaPosix", "PlasmaCore", "PlasmaWire", "PlasmaEngine", "PlasmaClusterCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ]
        ),
        .target(
            name: "PlasmaClient",
            dependencies: [
                "PlasmaPosix", "PlasmaCore", "PlasmaWire",
                // SHA-256 for ObjectID(name:), a rule other languages reproduce with their standard library.
                .product(name: "Crypto", package: "swift-crypto"),
                // An application's Logger, optionally handed to a client (nothing is logged without one).
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "plasma-store",
            dependencies: [
                "PlasmaStore", "PlasmaEngine", "PlasmaCore", "PlasmaToolSupport", "PlasmaClusterCore", "PlasmaEtcd", "PlasmaTransfer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What the command-line tools share (the JSON writer, duration formats); not a product.
        .target(name: "PlasmaToolSupport", dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // A small Arrow-dialect client (not a product): plasma-bench --compare-arrow and the tests drive
        // Arrow's store and ours with it.
        .target(name: "PlasmaArrowClient", dependencies: ["PlasmaCore", "PlasmaPosix", "PlasmaWire"]),
        // What both test targets share (a test target can't share a source file with another).
        .target(name: "PlasmaTestSupport", path: "Tests/PlasmaTestSupport"),
        .testTarget(
            name: "PlasmaUnitTests",
            dependencies: [
                "CPlasma", "PlasmaPosix", "PlasmaCore", "PlasmaWire", "PlasmaEngine", "PlasmaStore", "PlasmaClient",
                "PlasmaClusterCore", "PlasmaTransfer", "PlasmaTestSupport", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "plasma-bench",
            dependencies: [
                "PlasmaClient", "PlasmaCore", "PlasmaPosix", "PlasmaWire", "PlasmaArrowClient", "PlasmaToolSupport",
                "PlasmaClusterCore", "PlasmaTransfer", "PlasmaEtcd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/plasma-bench"
        ),
        // A store with or without a no-op cluster attachment, to measure what clustering costs local work
        // (Benchmarks/cluster-overhead.sh); not a product.
        .executableTarget(
            name: "cluster-overhead-store",
            dependencies: ["PlasmaStore", "PlasmaEngine", "PlasmaClusterCore", "PlasmaCore", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/cluster-overhead"
        ),
        // The command-line tool: put, get, list, stats, delete, evict.
        .executableTarget(
            name: "plasma",
            dependencies: [
                "PlasmaClient", "PlasmaCore", "PlasmaToolSupport", "PlasmaClusterCore", "PlasmaEtcd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The README's Swift examples as complete programs (ReadmeExampleTests keep the two identical).
        .executableTarget(name: "example-put-get", dependencies: ["PlasmaClient"], path: "Examples/put-get"),
        .executableTarget(name: "example-await-producers", dependencies: ["PlasmaClient"], path: "Examples/await-producers"),
        .executableTarget(name: "example-subscriber", dependencies: ["PlasmaClient"], path: "Examples/subscriber"),
        // A small client program the integration tests run as a separate process.
        .executableTarget(
            name: "plasma-test-peer",
            dependencies: ["PlasmaClient", "PlasmaCore", "PlasmaPosix", "PlasmaWire"],
            path: "Tests/PlasmaTestPeer"
        ),
        .testTarget(
            name: "PlasmaIntegrationTests",
            dependencies: [
                "PlasmaClient", "PlasmaCore", "PlasmaPosix", "PlasmaWire", "PlasmaArrowClient", "plasma-store", "plasma-test-peer", "plasma",
                "example-put-get", "example-await-producers", "example-subscriber", "PlasmaTestSupport",
                "PlasmaClusterCore", "PlasmaEtcd",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
