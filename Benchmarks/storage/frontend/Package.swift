// swift-tools-version:6.1
// Storage front-end benchmark: 1 GiB written and hashed through `PieceStore.BlockWriter` (buffers, no copy)
// beside the `[UInt8]` path the engine uses today, then read back both ways, in one process (see ../run-frontend).
import PackageDescription

let package = Package(
    name: "StorageFrontBench",
    dependencies: [
        .package(name: "NetBitTorrent", path: "../../.."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    ],
    targets: [
        .executableTarget(
            name: "StorageFrontBench",
            dependencies: [
                .product(name: "BTStorage", package: "NetBitTorrent"),
                .product(name: "BTMetainfo", package: "NetBitTorrent"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)])
    ]
)
