import BTMetainfo
import BTStorage
import Foundation
import Testing

/// A batch of upload reads (a peer's pipelined requests) is read in one call, and every range gets its own
/// answer: good ranges their bytes, an invalid or unverified range its own error, and a range whose file
/// vanished `fileChanged` (its piece stops being verified) without spoiling the others.
@Test func aBatchOfReadsAnswersEveryRangeOnItsOwn() async throws {
    var generator = SeededGenerator(seed: 71)
    // Three files, one piece each: piece 2 lies in the last file.
    let fixture = Fixture.v1(sizes: [32768, 32768, 32768], pieceLength: 32768, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    try fixture.writeFiles(to: folder.path)
    let storage = FileStorage(torrent: fixture.torrent, folder: folder.path)
    let store = PieceStore(torrent: fixture.torrent, storage: storage)
    let verified = try await store.checkExistingData()
    #expect(verified.setCount == 3)

    // Piece 1 stops being ours: its file is removed behind our back.
    storage.closeFiles()
    let victim = ([folder.path, fixture.torrent.name] + fixture.torrent.files[1].path).joined(separator: "/")
    try FileManager.default.removeItem(atPath: victim)

    let results = await store.readBlocks([
        BlockRequest(piece: 0, offset: 16384, length: 16384),
        BlockRequest(piece: 7, offset: 0, length: 16384),  // no such piece
        BlockRequest(piece: 1, offset: 0, length: 16384),  // its file vanished
        BlockRequest(piece: 2, offset: 100, length: 1000),
        BlockRequest(piece: 0, offset: 30000, length: 16384),  // past the piece's end
    ])
    #expect(results.count == 5)
    #expect(try results[0].get() == Array(fixture.piece(0)[16384..<32768]))
    #expect(try results[3].get() == Array(fixture.piece(2)[100..<1100]))
    for (index, code) in [(1, StorageError.Code.invalidRequest), (2, .fileChanged), (4, .invalidRequest)] {
        guard case .failure(let error) = results[index] else {
            Issue.record("range \(index) should fail")
            continue
        }
        #expect(error.code == code, "range \(index)")
    }
    let after = await store.verifiedPieces
    #expect(!after[1] && after[0] && after[2])
    // The vanished piece is now refused as unverified, the others still read.
    let again = await store.readBlocks([
        BlockRequest(piece: 1, offset: 0, length: 10), BlockRequest(piece: 2, offset: 0, length: 10),
    ])
    if case .failure(let error) = again[0] {
        #expect(error.code == .invalidRequest)
    } else {
        Issue.record("unverified")
    }
    #expect(try again[1].get() == Array(fixture.piece(2)[0..<10]))
}
