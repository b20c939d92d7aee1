// swift-tools-version:6.1
// DHT simulation benchmark: a release executable running BTDHT's simulated network at 10,000 nodes (see ./run).
import PackageDescription

let package = Package(
    name: "DHTBench",
    dependencies: [.package(name: "NetBitTorrent", path: "../..")],
    targets: [
        .executableTarget(
            name: "DHTBench", dependencies: [.product(name: "BTDHT", package: "NetBitTorrent")],
            swiftSettings: [.swiftLanguageMode(.v6)])
    ]
)
