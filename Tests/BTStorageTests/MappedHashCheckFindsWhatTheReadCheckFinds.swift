import BTMetainfo
import BTStorage
import Foundation
import Testing

/// Random bytes flipped in random files (some layouts with pad files): the mapped check reports exactly the
/// pieces holding a flipped byte, the same answer as the pread check on the same data.
@Test(arguments: 0..<6)
func mappedHashCheckFindsExactlyTheCorruptedPiecesLikeTheReadCheck(seed: UInt64) async throws {
    var generator = SeededGenerator(seed: 2000 + seed)
    let sizes = (0..<Int.random(in: 2...8, using: &generator)).map { _ in
        Int.random(in: 0...300_000, using: &generator)
    }
    let fixture = Fixture.v1(sizes: sizes, pieceLength: 16384, padAligned: seed % 2 == 0, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    try fixture.writeFiles(to: folder.path)
    let layout = fixture.torrent.layout

    var corrupted = Set<Int>()
    let candidates = layout.files.indices.filter { layout.files[$0].length > 0 && !layout.files[$0].isPadFile }
    for _ in 0..<Int.random(in: 1...10, using: &generator) {
        let file = candidates.randomElement(using: &generator)!
        let position = Int64.random(in: 0..<layout.files[file].length, using: &generator)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: fixture.path(ofFile: file, in: folder.path)))
        try handle.seek(toOffset: UInt64(position))
        let old = try handle.read(upToCount: 1)![0]
        try handle.seek(toOffset: UInt64(position))
        try handle.write(contentsOf: [old ^ UInt8.random(in: 1...255, using: &generator)])
        try handle.close()
        corrupted.insert(Int((layout.files[file].offset + position) / Int64(layout.pieceLength)))
    }

    let store = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    let progress = Locked(0)
    let mapped = try await store.checkExistingData(mode: .mapped) { update in
        progress.withLock { $0 = max($0, update.checked) }
    }
    let read = try await store.checkExistingData(mode: .read)
    #expect(Set((0..<layout.pieceCount).filter { !mapped[$0] }) == corrupted)
    #expect(mapped.setIndexes == read.setIndexes)
    #expect(progress.withLock { $0 } == layout.pieceCount)
}

/// The store's check mode applies to checks that do not name one (the engine's recheck calls
/// `checkExistingData(progress:)`): a store set to `.mapped` finds the same corrupted piece.
@Test func storeCheckModeAppliesToChecksThatNameNone() async throws {
    var generator = SeededGenerator(seed: 77)
    let fixture = Fixture.v1(sizes: [100_000, 60_000], pieceLength: 16384, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    try fixture.writeFiles(to: folder.path)
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: fixture.path(ofFile: 1, in: folder.path)))
    try handle.seek(toOffset: 10)
    try handle.write(contentsOf: [0xAA, 0x55, 0xAA])
    try handle.close()
    let store = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    await store.setCheckMode(.mapped)
    #expect(await store.checkMode == .mapped)
    let verified = try await store.checkExistingData()
    #expect(Set((0..<fixture.torrent.layout.pieceCount).filter { !verified[$0] }) == [100_010 / 16384])
}

/// Missing and short files are missing pieces in the mapped check too (nothing is mapped past a file's end).
@Test func mappedCheckCountsShortAndMissingFilesAsMissingPieces() async throws {
    var generator = SeededGenerator(seed: 43)
    let fixture = Fixture.v1(sizes: [70000, 50000, 90000], pieceLength: 16384, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    try fixture.writeFiles(to: folder.path)
    try FileManager.default.removeItem(atPath: fixture.path(ofFile: 1, in: folder.path))
    let truncated = try FileHandle(forUpdating: URL(fileURLWithPath: fixture.path(ofFile: 2, in: folder.path)))
    try truncated.truncate(atOffset: 60000)
    try truncated.close()

    let layout = fixture.torrent.layout
    let store = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    let verified = try await store.checkExistingData(mode: .mapped)
    var expected = Set<Int>()
    for piece in 0..<layout.pieceCount {
        let start = layout.offset(ofPiece: piece)
        let end = start + Int64(layout.size(ofPiece: piece))
        let touchesMissing = end > layout.files[1].offset && start < layout.files[1].offset + layout.files[1].length
        let touchesCut = end > layout.files[2].offset + 60000
        if !touchesMissing && !touchesCut { expected.insert(piece) }
    }
    #expect(Set(verified.setIndexes) == expected)
    #expect(try await store.checkExistingData(mode: .read).setIndexes == verified.setIndexes)
}
