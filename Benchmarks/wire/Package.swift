// swift-tools-version:6.1
// BTWire benchmark: decode throughput of the peer wire codec beside SHA-1 on the same bytes, in one run.
// Run with ./run (release build).
import PackageDescription

let package = Package(
    name: "WireBenchmark",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "NetBitTorrent", path: "../.."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    ],
    targets: [
        .executableTarget(
            name: "WireBenchmark",
            dependencies: [
                .product(name: "BTWire", package: "NetBitTorrent"),
                .product(name: "BTMetainfo", package: "NetBitTorrent"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)])
    ]
)
