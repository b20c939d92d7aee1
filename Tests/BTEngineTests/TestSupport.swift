import BTMetainfo
import Foundation

/// SplitMix64: a small deterministic generator so every randomised test replays exactly.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A layout of consecutive files with the given lengths.
func makeLayout(pieceLength: Int, fileLengths: [Int64], padFiles: Set<Int> = []) -> PieceLayout {
    var offset: Int64 = 0
    var files: [TorrentFile] = []
    for (index, length) in fileLengths.enumerated() {
        files.append(
            TorrentFile(
                path: ["file\(index)"], length: length, offset: offset, attributes: padFiles.contains(index) ? "p" : "")
        )
        offset += length
    }
    return PieceLayout(pieceLength: pieceLength, files: files)
}

/// Collects values from `@Sendable` callbacks.
final class Recorder<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Value] = []

    func append(_ value: Value) { lock.withLock { storage.append(value) } }
    var values: [Value] { lock.withLock { storage } }
}
