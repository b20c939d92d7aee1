import BTMetainfo
import BTStorage
import Foundation
import Testing

/// Random file-size lists (zero-length files, files smaller and larger than a piece, pad-aligned layouts):
/// every byte of every file belongs to exactly one piece offset, and pad files take no space.
@Test(arguments: 0..<40)
func everyFileByteBelongsToExactlyOnePieceOffset(seed: Int) async throws {
    var generator = SeededGenerator(seed: UInt64(seed))
    let pieceLength =
        [16384, 32768, 65536][Int.random(in: 0..<3, using: &generator)] / Int.random(in: 1...4, using: &generator)
    let count = Int.random(in: 1...12, using: &generator)
    let sizes = (0..<count).map { _ in
        Bool.random(using: &generator)
            ? Int.random(in: 0...3, using: &generator) : Int.random(in: 0...(3 * pieceLength), using: &generator)
    }
    let fixture = Fixture.v1(
        sizes: sizes, pieceLength: pieceLength, padAligned: seed % 2 == 1, generator: &generator)
    let layout = fixture.torrent.layout
    var owner: [[Int64?]] = layout.files.map { [Int64?](repeating: nil, count: Int($0.length)) }
    var streamTotal: Int64 = 0
    var claimedTwice = 0
    var badSlices = 0
    for piece in 0..<layout.pieceCount {
        var covered = 0
        for slice in layout.slices(piece: piece) {
            if slice.offsetInRange != covered || slice.length <= 0 { badSlices += 1 }
            covered += slice.length
            for byte in 0..<slice.length {
                let position = Int(slice.offsetInFile) + byte
                if owner[slice.fileIndex][position] != nil { claimedTwice += 1 }
                owner[slice.fileIndex][position] = layout.offset(ofPiece: piece) + Int64(slice.offsetInRange + byte)
            }
        }
        #expect(covered == layout.size(ofPiece: piece))
        streamTotal += Int64(covered)
    }
    #expect(claimedTwice == 0, "bytes claimed by two piece offsets")
    #expect(badSlices == 0, "slices out of order or empty")
    #expect(streamTotal == layout.totalLength)
    var misplaced = 0
    for (index, file) in layout.files.enumerated() {
        for (position, streamOffset) in owner[index].enumerated() where streamOffset != file.offset + Int64(position) {
            misplaced += 1
        }
    }
    #expect(misplaced == 0, "file bytes not owned by exactly their piece offset")

    // Written block by block into memory, every real file reads back as the original; pad files are absent.
    let memory = MemoryStorage(layout: layout)
    let store = PieceStore(torrent: fixture.torrent, storage: memory, pool: WorkerPool(width: 2))
    for piece in 0..<layout.pieceCount {
        let bytes = fixture.piece(piece)
        for block in 0..<store.blockCount(ofPiece: piece) {
            let start = block * PieceStore.blockSize
            let result = try await store.writeBlock(
                piece: piece, offset: start,
                bytes: Array(bytes[start..<min(start + PieceStore.blockSize, bytes.count)]),
                from: PeerTag(1))
            if block == store.blockCount(ofPiece: piece) - 1 {
                #expect(result == .pieceVerified(piece: piece, peers: [PeerTag(1)]))
            }
        }
    }
    #expect(await store.isComplete)
    try await store.createEmptyFiles()  // the engine's step at start: empty files have no pieces to write
    for (index, file) in layout.files.enumerated() {
        if file.isPadFile {
            #expect(memory.contents(ofFile: index) == nil, "pad file stored")
        } else {
            #expect(memory.contents(ofFile: index) == fixture.contents[index])
        }
    }
}

/// On disk: pad files are never created, zero-length files are created empty, every file has its exact size.
@Test func padFilesTakeNoDiskSpaceAndEmptyFilesExist() async throws {
    var generator = SeededGenerator(seed: 7)
    let fixture = Fixture.v1(
        sizes: [5000, 0, 40000, 0, 1], pieceLength: 16384, padAligned: true, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let storage = FileStorage(torrent: fixture.torrent, folder: folder.path)
    let store = PieceStore(torrent: fixture.torrent, storage: storage)
    for piece in 0..<fixture.torrent.pieceCount {
        let bytes = fixture.piece(piece)
        for start in stride(from: 0, to: bytes.count, by: PieceStore.blockSize) {
            _ = try await store.writeBlock(
                piece: piece, offset: start,
                bytes: Array(bytes[start..<min(start + PieceStore.blockSize, bytes.count)]),
                from: PeerTag(2))
        }
    }
    #expect(await store.isComplete)
    for (index, file) in fixture.torrent.files.enumerated() {
        let path = fixture.path(ofFile: index, in: folder.path)
        if file.isPadFile {
            #expect(!FileManager.default.fileExists(atPath: path), "pad file \(path) was created")
        } else {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.size] as? NSNumber)?.int64Value == file.length)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(fixture.contents[index]))
        }
    }
    let padFolder = folder.path + "/" + fixture.torrent.name + "/.pad"
    #expect(!FileManager.default.fileExists(atPath: padFolder))
}
