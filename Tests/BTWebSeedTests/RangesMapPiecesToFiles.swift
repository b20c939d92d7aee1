import BTMetainfo
import BTWebSeed
import Testing

@Suite struct RangesMapPiecesToFiles {
    /// a (100 bytes), pad (28), empty, b (300), c (50); pieces of 128 bytes.
    let layout = PieceLayout(
        pieceLength: 128,
        files: [
            TorrentFile(path: ["a"], length: 100, offset: 0),
            TorrentFile(path: [".pad", "28"], length: 28, offset: 100, attributes: "p"),
            TorrentFile(path: ["empty"], length: 0, offset: 128),
            TorrentFile(path: ["b"], length: 300, offset: 128),
            TorrentFile(path: ["c"], length: 50, offset: 428),
        ])

    @Test func aPieceEndingInAPadFileAsksOnlyForTheRealFile() {
        let ranges = WebSeedRange.ranges(in: layout, streamOffset: 0, length: 128)
        #expect(ranges.count == 2)
        #expect(
            ranges[0] == WebSeedRange(fileIndex: 0, offsetInFile: 0, length: 100, fileLength: 100, isPadFile: false))
        #expect(ranges[1].isPadFile && ranges[1].length == 28)
        #expect(ranges[0].isWholeFile)
        #expect(ranges[0].rangeHeader == "bytes=0-99")
    }

    @Test func aPieceSpanningTwoFilesNeedsTwoRanges() {
        // Piece 3: bytes 384..<478 (the last, short piece): b 256..<300, then c 0..<50.
        #expect(layout.size(ofPiece: 3) == 94)
        let ranges = WebSeedRange.ranges(in: layout, streamOffset: layout.offset(ofPiece: 3), length: 94)
        #expect(
            ranges == [
                WebSeedRange(fileIndex: 3, offsetInFile: 256, length: 44, fileLength: 300, isPadFile: false),
                WebSeedRange(fileIndex: 4, offsetInFile: 0, length: 50, fileLength: 50, isPadFile: false),
            ])
        #expect(ranges[0].rangeHeader == "bytes=256-299")
    }

    @Test func zeroLengthFilesAreNeverRequested() {
        let ranges = WebSeedRange.ranges(in: layout, streamOffset: 0, length: 478)
        #expect(ranges.map(\.fileIndex) == [0, 1, 3, 4])
        #expect(ranges.reduce(0) { $0 + $1.length } == 478)
    }

    @Test func aRunOfBlocksInsideOneFileIsOneRange() {
        let ranges = WebSeedRange.ranges(in: layout, streamOffset: 150, length: 200)
        #expect(
            ranges == [WebSeedRange(fileIndex: 3, offsetInFile: 22, length: 200, fileLength: 300, isPadFile: false)])
        #expect(!ranges[0].isWholeFile)
    }
}
