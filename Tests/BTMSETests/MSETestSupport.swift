import Foundation
import NIOCore

@testable import BTMSE

/// Shared helpers of the BTMSE tests: fixtures, hex, a seeded generator.
enum MSETestSupport {
    /// The text of `Fixtures/<name>`.
    static func fixture(_ name: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/" + name)
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// Non-comment, non-empty lines of a fixture, split on spaces.
    static func records(_ name: String) throws -> [[String]] {
        try fixture(name).split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
            .map { $0.split(separator: " ").map(String.init) }
    }

    static func bytes(hex: String) -> [UInt8] { Montgomery768.hexBytes(hex) }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// A deterministic generator (splitmix64) so that random splits replay.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func randomBytes(_ count: Int, using rng: inout SeededGenerator) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// Fixed randomness for one side of a handshake.
    static func randomness(seed: UInt64, clearPad: Int, encryptedPad: Int) -> MSEHandshakeRandomness {
        var rng = SeededGenerator(seed: seed)
        return MSEHandshakeRandomness(
            privateKey: randomBytes(20, using: &rng), clearPad: randomBytes(clearPad, using: &rng),
            encryptedPad: randomBytes(encryptedPad, using: &rng))
    }

    /// A 68-byte BitTorrent handshake for `infoHash` (BEP 3), as the initial payload.
    static func bitTorrentHandshake(infoHash: [UInt8], peerID: UInt8) -> [UInt8] {
        [19] + Array("BitTorrent protocol".utf8) + [UInt8](repeating: 0, count: 8) + infoHash
            + [UInt8](repeating: peerID, count: 20)
    }
}
