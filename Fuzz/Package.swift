// swift-tools-version:5.4
// (5.4 on purpose: newer tools versions rename an executable's entry point to <Target>_main, which a
// libFuzzer binary built with -parse-as-library never defines, so linking fails.)
// libFuzzer targets for every NetBitTorrent parser of untrusted bytes.
//
// Each folder Fuzz/Sources/<Target>/ is one fuzz target (an executable with
// `@_cdecl("LLVMFuzzerTestOneInput")`), discovered automatically; its seed corpus lives in
// Fuzz/Corpus/<Target>/. Build and run one with `scripts/fuzz <Target> <seconds>`.
import Foundation
import PackageDescription

let sources = (#filePath as NSString).deletingLastPathComponent + "/Sources"
let names = ((try? FileManager.default.contentsOfDirectory(atPath: sources)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
let modules = [
    "BTBencode", "BTMetainfo", "BTWire", "BTMSE", "BTUTP", "BTDHT", "BTTracker", "BTStorage", "BTWebSeed", "BTEngine",
    "BTDaemon",
]
/// SwiftNIO modules a target may import beyond those NetBitTorrent's products bring (NIOEmbedded: a channel
/// without a socket, for targets that drive a channel handler).
let nioModules = ["NIOEmbedded"]

/// The NetBitTorrent modules a target imports, so that building one target compiles only what it needs.
func imports(of target: String) -> [String] {
    let folder = sources + "/" + target
    let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".swift") }
    var found: Set<String> = []
    for file in files {
        guard let text = try? String(contentsOfFile: folder + "/" + file, encoding: .utf8) else { continue }
        for line in text.split(separator: "\n") where line.hasPrefix("import ") {
            let module = line.dropFirst("import ".count).trimmingCharacters(in: .whitespaces)
            if modules.contains(module) || nioModules.contains(module) { found.insert(module) }
        }
    }
    return found.sorted()
}

let package = Package(
    name: "NetBitTorrentFuzz",
    dependencies: [
        .package(name: "NetBitTorrent", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: names.map { name in
        .executableTarget(
            name: name,
            dependencies: imports(of: name).map {
                .product(name: $0, package: nioModules.contains($0) ? "swift-nio" : "NetBitTorrent")
            },
            path: "Sources/" + name,
            swiftSettings: [.unsafeFlags(["-parse-as-library", "-swift-version", "6"])])
    }
)
