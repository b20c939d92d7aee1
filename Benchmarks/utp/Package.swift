// swift-tools-version:6.1
// BTUTP micro-benchmark: two UTPConnection state machines back to back in memory (every packet encoded and
// decoded on the way), reporting throughput, packets per second and CPU per GiB; and two UTPSocketHandler
// drivers over UDP on loopback (in a private network namespace); and one connection through UTPStreamChannels (the
// engine's path), with and without UDP segmentation offload. Run with ./run.
import PackageDescription

let package = Package(
    name: "UTPBenchmark",
    dependencies: [
        .package(name: "NetBitTorrent", path: "../.."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "UTPBenchmark",
            dependencies: [
                .product(name: "BTUTP", package: "NetBitTorrent"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]),
        .executableTarget(
            name: "UTPChannelBenchmark",
            dependencies: [
                .product(name: "BTUTP", package: "NetBitTorrent"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]),
        .executableTarget(
            name: "UTPLoopbackBenchmark",
            dependencies: [
                .product(name: "BTUTP", package: "NetBitTorrent"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]),
    ]
)
