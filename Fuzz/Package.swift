// swift-tools-version:6.1
// libFuzzer targets for every NetBitTorrent parser of untrusted bytes.
//
// Each folder Fuzz/Sources/<Target>/ is one fuzz target (an executable with
// `@_cdecl("LLVMFuzzerTestOneInput")`), discovered automatically; its seed corpus lives in
// Fuzz/Corpus/<Target>/. Build and run one with `scripts/fuzz <Target> <seconds>`.
import Foundation
import PackageDescription

let sources = Context.packageDirectory + "/Sources"
let names = ((try? FileManager.default.contentsOfDirectory(atPath: sources)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
let modules = ["BTBencode", "BTMetainfo", "BTWire", "BTMSE", "BTUTP", "BTDHT", "BTTracker", "BTStorage"]

let package = Package(
    name: "NetBitTorrentFuzz",
    dependencies: [.package(name: "NetBitTorrent", path: "..")],
    targets: names.map { name in
        .executableTarget(
            name: name,
            dependencies: modules.map { .product(name: $0, package: "NetBitTorrent") },
            path: "Sources/" + name,
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])])
    }
)
