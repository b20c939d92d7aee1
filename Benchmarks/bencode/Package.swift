// swift-tools-version:6.1
// Bencode decoding benchmark: a release executable timing BTBencode on the same files the Python and C++
// decoders read (see ./run).
import PackageDescription

let package = Package(
    name: "BencodeBench",
    dependencies: [.package(name: "NetBitTorrent", path: "../..")],
    targets: [
        .executableTarget(
            name: "BencodeBench", dependencies: [.product(name: "BTBencode", package: "NetBitTorrent")],
            swiftSettings: [.swiftLanguageMode(.v6)])
    ]
)
