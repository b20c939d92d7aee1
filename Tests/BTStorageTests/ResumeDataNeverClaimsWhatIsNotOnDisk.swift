import BTMetainfo
import BTStorage
import Foundation
import Testing

/// Three files of 3, 2 and 3 pieces (16 KiB pieces, pad-aligned so each piece lies in one file).
private func fixture(seed: UInt64) -> Fixture {
    var generator = SeededGenerator(seed: seed)
    return Fixture.v1(
        sizes: [3 * 16384, 2 * 16384, 3 * 16384 - 100], pieceLength: 16384, padAligned: true, name: "claims",
        generator: &generator)
}

/// A store over `folder` with every piece written through it (so its books say: all verified).
private func completeStore(_ fixture: Fixture, in folder: String, maxOpenFiles: Int = 64) async throws -> PieceStore {
    let storage = FileStorage(torrent: fixture.torrent, folder: folder, maxOpenFiles: maxOpenFiles)
    let store = PieceStore(torrent: fixture.torrent, storage: storage)
    _ = try await store.start(resumeDataAt: nil)
    for piece in 0..<fixture.torrent.pieceCount {
        let bytes = fixture.piece(piece)
        for offset in stride(from: 0, to: bytes.count, by: PieceStore.blockSize) {
            let end = min(offset + PieceStore.blockSize, bytes.count)
            _ = try await store.writeBlock(
                piece: piece, offset: offset, bytes: Array(bytes[offset..<end]), from: .local)
        }
    }
    #expect(await store.isComplete)
    return store
}

/// The pieces holding bytes of layout file `file`.
private func pieces(of fixture: Fixture, file: Int) -> Range<Int> { fixture.torrent.layout.pieces(ofFile: file) }

/// The layout index of the second real file (the first is 0; pad files sit between them).
private func secondFile(_ fixture: Fixture) -> Int {
    fixture.torrent.files.indices.filter { !fixture.torrent.files[$0].isPadFile }[1]
}

@Test func aFileDeletedWhileRunningIsNotClaimedBySavedResumeData() async throws {
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let fixture = fixture(seed: 1)
    let store = try await completeStore(fixture, in: folder.path)
    let deleted = secondFile(fixture)
    #expect(unlink(fixture.path(ofFile: deleted, in: folder.path)) == 0)

    let resume = try await store.resumeData()
    #expect(resume.files[deleted] == nil)
    for piece in 0..<fixture.torrent.pieceCount {
        #expect(resume.verified[piece] == !pieces(of: fixture, file: deleted).contains(piece), "piece \(piece)")
    }

    // After a restart with that resume data, the deleted file's pieces are missing, the others kept.
    let path = folder.path + "/claims.resume"
    try await store.saveResumeData(to: path)
    let restarted = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    _ = try await restarted.start(resumeDataAt: path)
    let verified = await restarted.verifiedPieces
    for piece in 0..<fixture.torrent.pieceCount {
        #expect(verified[piece] == !pieces(of: fixture, file: deleted).contains(piece), "piece \(piece)")
    }
}

@Test func aFileTruncatedWhileRunningLosesOnlyThePiecesPastItsNewEnd() async throws {
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let fixture = fixture(seed: 2)
    let store = try await completeStore(fixture, in: folder.path)
    // The first file keeps its first piece and a half.
    #expect(truncate(fixture.path(ofFile: 0, in: folder.path), off_t(16384 + 8192)) == 0)
    let resume = try await store.resumeData()
    #expect(resume.verified[0])
    #expect(!resume.verified[1] && !resume.verified[2])
    #expect(resume.verified.setCount == fixture.torrent.pieceCount - 2)
}

@Test func resumeDataThatClaimsAMissingFileAsUnchangedIsCheckedNotTrusted() async throws {
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let fixture = fixture(seed: 3)
    let store = try await completeStore(fixture, in: folder.path)
    let deleted = secondFile(fixture)
    // What the old code saved: the file recorded as absent ("unchanged" if still absent), its pieces verified.
    var lying = try await store.resumeData()
    #expect(unlink(fixture.path(ofFile: deleted, in: folder.path)) == 0)
    lying.files[deleted] = nil
    let restarted = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    guard case .resumed(_, let rechecked) = try await restarted.restore(from: lying) else {
        Issue.record("expected the resume data to be used")
        return
    }
    #expect(rechecked == pieces(of: fixture, file: deleted).count)
    let verified = await restarted.verifiedPieces
    for piece in pieces(of: fixture, file: deleted) { #expect(!verified[piece], "piece \(piece)") }
    #expect(verified.setCount == fixture.torrent.pieceCount - pieces(of: fixture, file: deleted).count)
}

@Test func writableHandlesAreFlushedWhenEvictedAndWhenClosed() async throws {
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let fixture = fixture(seed: 4)
    // One open file at a time: writing a piece of the second file evicts the first file's handle.
    let storage = FileStorage(torrent: fixture.torrent, folder: folder.path, maxOpenFiles: 1)
    let store = PieceStore(torrent: fixture.torrent, storage: storage)
    _ = try await store.start(resumeDataAt: nil)
    _ = try await store.writeBlock(piece: 0, offset: 0, bytes: fixture.piece(0), from: .local)
    #expect(storage.filesFlushedOnClose == 0)
    let second = pieces(of: fixture, file: secondFile(fixture)).lowerBound
    _ = try await store.writeBlock(piece: second, offset: 0, bytes: fixture.piece(second), from: .local)
    #expect(storage.filesFlushedOnClose == 1, "the evicted writable handle was flushed")
    storage.closeFiles()
    #expect(storage.filesFlushedOnClose == 2, "closing the others flushes them too")
    // A completed torrent's handles are closed (flushed) by the store itself.
    let complete = try await completeStore(fixture, in: folder.path + "/again")
    let completed = try #require(complete.storage as? FileStorage)
    #expect(completed.filesFlushedOnClose == fixture.torrent.files.filter { !$0.isPadFile }.count)
}

@Test func concurrentSavesRunOneAtATimeWithTemporaryFilesOfTheirOwn() async throws {
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let fixture = fixture(seed: 5)
    let store = try await completeStore(fixture, in: folder.path)
    let path = folder.path + "/claims.resume"
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<16 { group.addTask { try await store.saveResumeData(to: path) } }
        try await group.waitForAll()
    }
    let saved = try ResumeData(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    #expect(saved.verified.isAllSet)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".tmp") }
    #expect(leftovers.isEmpty)
}

@Test func periodicSavesWriteOnlyWhenSomethingChanged() async throws {
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let fixture = fixture(seed: 6)
    let storage = FileStorage(torrent: fixture.torrent, folder: folder.path)
    let store = PieceStore(torrent: fixture.torrent, storage: storage)
    _ = try await store.start(resumeDataAt: nil)
    let path = folder.path + "/claims.resume"
    #expect(try await store.saveResumeDataIfChanged(to: path))
    #expect(try await !store.saveResumeDataIfChanged(to: path))
    _ = try await store.writeBlock(piece: 0, offset: 0, bytes: fixture.piece(0), from: .local)
    #expect(try await store.saveResumeDataIfChanged(to: path))
    #expect(try await !store.saveResumeDataIfChanged(to: path))
    // A file deleted while idle changes what may be claimed: the next periodic save records it.
    #expect(unlink(fixture.path(ofFile: 0, in: folder.path)) == 0)
    #expect(try await store.saveResumeDataIfChanged(to: path))
    let saved = try ResumeData(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    #expect(!saved.verified[0])
}
