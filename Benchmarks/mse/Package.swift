// swift-tools-version:6.1
// BTMSE benchmark: handshakes per second (each role), the 768-bit modexp and RC4 throughput, printed beside
// OpenSSL's figures on this machine by ./run (release build), and MSEChannelHandler's RC4 throughput through an
// EmbeddedChannel pair.
import PackageDescription

let package = Package(
    name: "MSEBenchmark",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "NetBitTorrent", path: "../.."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "MSEBenchmark",
            dependencies: [
                .product(name: "BTMSE", package: "NetBitTorrent"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)])
    ]
)
