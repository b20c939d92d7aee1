// swift-tools-version:6.1
// NetBitTorrent: a BitTorrent protocol toolkit and client.
//
// Each protocol layer is a library product of its own (`BT<Folder>`), so a user can depend on one
// module alone. Lower layers never import higher ones:
//   BTBencode  <- BTMetainfo <- BTWire, BTTracker, BTStorage, BTDHT <- BTWebSeed (uses BTTracker's address
//   policy) <- BTEngine <- BTSimulator (virtual swarms of real clients), BTDaemon (Transmission RPC) <- nbt
import PackageDescription

let nio = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")
let collections = Target.Dependency.product(name: "Collections", package: "swift-collections")
let systemPackage = Target.Dependency.product(name: "SystemPackage", package: "swift-system")
let httpClient = Target.Dependency.product(name: "AsyncHTTPClient", package: "async-http-client")
let nioSSL = Target.Dependency.product(name: "NIOSSL", package: "swift-nio-ssl")
let nioHTTP1 = Target.Dependency.product(name: "NIOHTTP1", package: "swift-nio")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")

/// Library modules: (module name, folder, dependencies).
let libraries: [(String, String, [Target.Dependency])] = [
    ("BTBencode", "Bencode", []),
    ("BTMetainfo", "Metainfo", ["BTBencode", crypto]),
    ("BTWire", "Wire", ["BTBencode", "BTMetainfo", nio]),
    ("BTMSE", "MSE", [nio, crypto]),
    ("BTUTP", "UTP", [nio]),
    ("BTDHT", "DHT", ["BTBencode", "BTMetainfo", nio, crypto]),
    ("BTTracker", "Tracker", ["BTBencode", "BTMetainfo", nio, nioPosix, httpClient, nioSSL, logging]),
    ("BTStorage", "Storage", ["BTBencode", "BTMetainfo", nio, crypto, systemPackage, collections, logging]),
    ("BTWebSeed", "WebSeed", ["BTBencode", "BTMetainfo", "BTTracker", nio, httpClient, logging]),
    (
        "BTEngine", "Engine",
        [
            "BTBencode", "BTMetainfo", "BTWire", "BTMSE", "BTUTP", "BTDHT", "BTTracker", "BTStorage", "BTWebSeed",
            nio, nioPosix, logging, metrics, collections,
        ]
    ),
    (
        "BTSimulator", "Simulator",
        [
            "BTBencode", "BTMetainfo", "BTWire", "BTStorage", "BTEngine", nio,
            .product(name: "NIOEmbedded", package: "swift-nio"), logging,
        ]
    ),
    (
        "BTDaemon", "Daemon",
        [
            "BTBencode", "BTMetainfo", "BTTracker", "BTStorage", "BTEngine", nio, nioPosix, nioHTTP1, logging, metrics,
            httpClient,
        ]
    ),
]

let swiftSettings: [SwiftSetting] = [.swiftLanguageMode(.v6)]

var targets: [Target] = libraries.map { name, folder, deps in
    .target(
        name: name, dependencies: deps, path: folder, exclude: ["README.md", "CHANGELOG.md"],
        swiftSettings: swiftSettings)
}
targets.append(
    .executableTarget(
        name: "nbt",
        dependencies: libraries.map { .target(name: $0.0) } + [argumentParser, logging, nioPosix, nioHTTP1, crypto],
        path: "CLI", exclude: ["README.md", "CHANGELOG.md"], swiftSettings: swiftSettings))

// One test target per module (`Tests/<Module>Tests`), depending on the module and every lower layer
// (for fixtures), never a higher one. `CLITests` drives the built `nbt` binary and may use any module.
// (Listed explicitly: SwiftPM caches manifest evaluation, so folder discovery here would go stale.)
let testedModules = [
    "BTBencode", "BTMetainfo", "BTWire", "BTMSE", "BTUTP", "BTDHT", "BTTracker", "BTStorage", "BTWebSeed",
    "BTEngine", "BTSimulator", "BTDaemon",
]
/// Folders of test data (not sources) in each test target; listed, not discovered, for the same reason.
let testData: [String: [String]] = [
    "BTMetainfo": ["Corpus", "Fixtures"], "BTWire": ["Fixtures"], "BTMSE": ["Fixtures"], "BTTracker": ["Fixtures"],
    "BTStorage": ["Fixtures"], "BTEngine": ["Fixtures"],
]
// Helpers every test target shares (a loopback-only network namespace for UDP tests), instead of copies.
targets.append(.target(name: "NBTTestSupport", path: "Tests/TestSupport", swiftSettings: swiftSettings))
for module in testedModules {
    let index = libraries.firstIndex { $0.0 == module }!
    let lower = libraries[..<index].map { Target.Dependency.target(name: $0.0) }
    targets.append(
        .testTarget(
            name: module + "Tests",
            dependencies: [.target(name: module), "NBTTestSupport"] + lower + [crypto, nio, nioPosix]
                + (module == "BTEngine" || module == "BTWire"
                    ? [.product(name: "NIOEmbedded", package: "swift-nio")] : [])
                + (module == "BTEngine"
                    ? [.product(name: "MetricsTestKit", package: "swift-metrics"), logging] : [])
                + (module == "BTDaemon" ? [metrics, httpClient] : []),
            path: "Tests/" + module + "Tests", exclude: testData[module] ?? [], swiftSettings: swiftSettings))
}
targets.append(
    .testTarget(
        name: "CLITests", dependencies: libraries.map { .target(name: $0.0) } + [crypto, nio, nioPosix],
        path: "Tests/CLITests", swiftSettings: swiftSettings))

let package = Package(
    name: "NetBitTorrent",
    platforms: [.macOS(.v14)],
    products: libraries.map { .library(name: $0.0, targets: [$0.0]) } + [
        .executable(name: "nbt", targets: ["nbt"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // `swift package generate-documentation` (scripts/docs): each library's DocC documentation.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: targets
)
