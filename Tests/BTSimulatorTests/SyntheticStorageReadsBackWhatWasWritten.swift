import BTMetainfo
import Testing

@testable import BTSimulator

/// The synthetic storage stores no correct bytes, yet reads give back exactly what was written: generated
/// content for correct blocks, the written bytes for wrong ones, nothing for blocks never written.
@Suite struct SyntheticStorageReadsBackWhatWasWritten {
    static let content = SyntheticContent(size: 100_000, seed: 9)
    static let torrent = try! content.makeTorrent(pieceLength: 32 * 1024)

    @Test func torrentHashesMatchTheGeneratedContent() throws {
        let storage = SyntheticStorage(layout: Self.torrent.layout, content: Self.content, complete: true)
        var buffer = [UInt8](repeating: 0, count: 100_000)
        let count = try buffer.withUnsafeMutableBytes { try storage.read(file: 0, offset: 0, into: $0) }
        #expect(count == 100_000)
        #expect(buffer == Self.content.bytes(0..<100_000))
        #expect(storage.holdsCorrectCopy)
    }

    @Test func aLeecherReadsOnlyWrittenBlocksAndKeepsWrongOnes() throws {
        let storage = SyntheticStorage(layout: Self.torrent.layout, content: Self.content, complete: false)
        #expect(try storage.status(ofFile: 0) == nil)
        var wrong = Self.content.bytes(16_384..<32_768)
        wrong[5] ^= 0xFF
        try wrong.withUnsafeBytes { try storage.write(file: 0, offset: 16_384, from: $0) }
        try Self.content.bytes(0..<16_384).withUnsafeBytes { try storage.write(file: 0, offset: 0, from: $0) }
        var buffer = [UInt8](repeating: 0, count: 40_000)
        let count = try buffer.withUnsafeMutableBytes { try storage.read(file: 0, offset: 0, into: $0) }
        #expect(count == 32_768, "the third block was never written")
        #expect(Array(buffer[0..<16_384]) == Self.content.bytes(0..<16_384))
        #expect(Array(buffer[16_384..<32_768]) == wrong)
        #expect(storage.wrongBytesWritten == 16_384)
        #expect(!storage.holdsCorrectCopy)
        // Rewriting the block with the right bytes forgets the wrong ones.
        try Self.content.bytes(16_384..<32_768).withUnsafeBytes { try storage.write(file: 0, offset: 16_384, from: $0) }
        _ = try buffer.withUnsafeMutableBytes { try storage.read(file: 0, offset: 0, into: $0) }
        #expect(Array(buffer[16_384..<32_768]) == Self.content.bytes(16_384..<32_768))
    }

    @Test func aWritePastTheEndIsATypedError() {
        let storage = SyntheticStorage(layout: Self.torrent.layout, content: Self.content, complete: false)
        #expect(throws: (any Error).self) {
            try [UInt8](repeating: 0, count: 10).withUnsafeBytes {
                try storage.write(file: 0, offset: 99_995, from: $0)
            }
        }
    }
}
