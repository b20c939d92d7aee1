import BTMetainfo
import BTStorage
import Foundation
import Testing

private func download(_ fixture: Fixture, into store: PieceStore, pieces: some Sequence<Int>) async throws {
    for piece in pieces {
        let bytes = fixture.piece(piece)
        for start in stride(from: 0, to: bytes.count, by: PieceStore.blockSize) {
            _ = try await store.writeBlock(
                piece: piece, offset: start,
                bytes: Array(bytes[start..<min(start + PieceStore.blockSize, bytes.count)]),
                from: .local)
        }
    }
}

/// A skipped file's pieces are not wanted and the file is not created, except when a piece it shares with a
/// wanted file is written (then its share of that piece is).
@Test func skippedFilesAreNotCreatedUnlessASharedPieceNeedsThem() async throws {
    var generator = SeededGenerator(seed: 41)
    // Piece 16 KiB: file0 = 20000 bytes (pieces 0-1), file1 = 40000 (pieces 1-3), file2 = 0, file3 = 16384 (pieces 3-4).
    let fixture = Fixture.v1(sizes: [20000, 40000, 0, 16384], pieceLength: 16384, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let store = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    await store.setPriority(.skip, ofFile: 1)
    await store.setPriority(.skip, ofFile: 2)
    let wanted = await store.wantedPieces
    #expect(wanted.setIndexes == [0, 1, 3, 4])
    try await download(fixture, into: store, pieces: [0])
    #expect(!FileManager.default.fileExists(atPath: fixture.path(ofFile: 1, in: folder.path)))
    #expect(
        !FileManager.default.fileExists(atPath: fixture.path(ofFile: 2, in: folder.path)), "skipped empty file created")
    try await download(fixture, into: store, pieces: [1, 3, 4])
    // Pieces 1 and 3 are shared with file 1: its file now exists, holding exactly those shares.
    let partial = try Data(contentsOf: URL(fileURLWithPath: fixture.path(ofFile: 1, in: folder.path)))
    #expect(partial.count == 40000)
    #expect(partial.prefix(32768 - 20000) == Data(fixture.contents[1].prefix(32768 - 20000)))
    #expect(await store.verifiedPieces.setIndexes == [0, 1, 3, 4])
}

/// Rename a file and move the whole storage while partway through; the download completes and verifies
/// at the new place; removing the data deletes every file and folder it created.
@Test func renameMoveAndRemoveData() async throws {
    var generator = SeededGenerator(seed: 42)
    let fixture = Fixture.v1(sizes: [30000, 50000, 0], pieceLength: 16384, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let first = folder.path + "/first"
    let second = folder.path + "/second"
    let storage = FileStorage(torrent: fixture.torrent, folder: first)
    let store = PieceStore(torrent: fixture.torrent, storage: storage)
    let pieces = fixture.torrent.pieceCount
    try await download(fixture, into: store, pieces: 0..<(pieces / 2))
    try await store.renameFile(1, to: ["renamed", "one.bin"])
    #expect(FileManager.default.fileExists(atPath: first + "/renamed/one.bin"))
    try await store.moveStorage(to: second)
    #expect(storage.folder == second)
    try await download(fixture, into: store, pieces: (pieces / 2)..<pieces)
    #expect(await store.isComplete)
    #expect(try Data(contentsOf: URL(fileURLWithPath: second + "/renamed/one.bin")) == Data(fixture.contents[1]))
    #expect(try Data(contentsOf: URL(fileURLWithPath: second + "/fixture/dir0/file0.bin")) == Data(fixture.contents[0]))
    #expect(FileManager.default.fileExists(atPath: second + "/fixture/dir2/file2.bin"))
    #expect((try? FileManager.default.contentsOfDirectory(atPath: first))?.isEmpty ?? true)

    // A fresh store over the moved data verifies it all.
    let again = PieceStore(torrent: fixture.torrent, storage: storage)
    #expect(try await again.checkExistingData().isAllSet)

    try await store.removeData()
    #expect(await store.verifiedPieces.isNoneSet)
    #expect(try FileManager.default.contentsOfDirectory(atPath: second).isEmpty)
}
