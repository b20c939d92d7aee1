import BTMetainfo
import BTStorage
import Foundation
import Testing

/// A file truncated by another program while its run is mapped (between mapping and hashing, through the
/// check's test hook): the process does not die of SIGBUS (the guard absorbs the fault), no piece past the
/// new end verifies, the pieces of the run that was mapped when the file shrank do not verify, and every
/// piece elsewhere (other files, runs hashed before) still does.
@Test func fileTruncatedDuringAMappedCheckNeitherCrashesNorVerifiesPiecesPastTheNewEnd() async throws {
    var generator = SeededGenerator(seed: 99)
    // 16 KiB pieces: a run is 64 pieces (1 MiB), so with one worker the runs are file0 0-1 MiB, 1-2 MiB,
    // file1 0-1 MiB (pieces 128..<192), 1-2 MiB (192..<256), file2 (256..<384).
    let mebibyte = 1 << 20
    let fixture = Fixture.v1(
        sizes: [2 * mebibyte, 2 * mebibyte, 2 * mebibyte], pieceLength: 16384, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    try fixture.writeFiles(to: folder.path)
    let layout = fixture.torrent.layout
    let victim = fixture.path(ofFile: 1, in: folder.path)
    let newEnd = Int64(mebibyte + 5000)

    let truncatedIn = Locked<[Int]>([])
    let check = HashCheck(
        storage: FileStorage(torrent: fixture.torrent, folder: folder.path),
        verifier: PieceVerifier(torrent: fixture.torrent), pool: WorkerPool(width: 1), mode: .mapped,
        afterMapping: { pieces in
            guard pieces.contains(192) else { return }
            // Another program cuts file1 while this run (file1's second MiB) is mapped.
            let handle = FileHandle(forUpdatingAtPath: victim)!
            try? handle.truncate(atOffset: UInt64(newEnd))
            try? handle.close()
            truncatedIn.withLock { $0 = pieces }
        })
    let faultsBefore = MappedWindowGuard.absorbedFaults
    let verified = try await check.run(pieces: Array(0..<layout.pieceCount))

    #expect(truncatedIn.withLock { $0 } == Array(192..<256))
    #expect(MappedWindowGuard.absorbedFaults > faultsBefore, "the guard absorbed the fault past the new end")
    let expected = Set(0..<128).union(128..<192).union(256..<384)
    #expect(Set(verified.setIndexes) == expected)
    // Past the new end nothing verifies; a later check reads the short file as missing pieces from there.
    let firstCut = Int((layout.files[1].offset + newEnd) / 16384)
    #expect(!(firstCut..<256).contains { verified[$0] })
    let again = try await HashCheck(
        storage: FileStorage(torrent: fixture.torrent, folder: folder.path),
        verifier: PieceVerifier(torrent: fixture.torrent), pool: WorkerPool(width: 2), mode: .mapped
    ).run(pieces: Array(0..<layout.pieceCount))
    #expect(Set(again.setIndexes) == Set(0..<firstCut).union(256..<384))
}

/// The same truncation with two workers, whose runs are mapped at the same time: no crash, nothing past the
/// new end verifies, and the files nobody touched verify in full.
@Test func fileTruncatedWhileTwoWorkersHaveRunsMappedLeavesTheOtherFilesVerified() async throws {
    var generator = SeededGenerator(seed: 98)
    let mebibyte = 1 << 20
    let fixture = Fixture.v1(
        sizes: [2 * mebibyte, 2 * mebibyte, 2 * mebibyte], pieceLength: 16384, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    try fixture.writeFiles(to: folder.path)
    let layout = fixture.torrent.layout
    let victim = fixture.path(ofFile: 1, in: folder.path)
    let newEnd = Int64(mebibyte / 2 + 123)
    let done = Locked(false)
    let check = HashCheck(
        storage: FileStorage(torrent: fixture.torrent, folder: folder.path),
        verifier: PieceVerifier(torrent: fixture.torrent), pool: WorkerPool(width: 2), mode: .mapped,
        afterMapping: { pieces in
            // The first run mapped in file 1 (pieces 128..<256) cuts it, before any of its pieces is hashed:
            // the other worker may have mapped the next run of file 1 already, but it waits here (the lock is
            // held while cutting) before hashing it. (Cutting only at the run of piece 128 let the other worker
            // hash a later run of file 1 first when it was scheduled sooner, as under ASan.)
            guard pieces.contains(where: { (128..<256).contains($0) }) else { return }
            done.withLock { cut in
                guard !cut else { return }
                cut = true
                let handle = FileHandle(forUpdatingAtPath: victim)!
                try? handle.truncate(atOffset: UInt64(newEnd))
                try? handle.close()
            }
        })
    let verified = try await check.run(pieces: Array(0..<layout.pieceCount))
    #expect(done.withLock { $0 })
    #expect(Set(0..<128).union(256..<384).isSubset(of: Set(verified.setIndexes)))
    let firstCut = Int((layout.files[1].offset + newEnd) / 16384)
    #expect(!(firstCut..<256).contains { verified[$0] })
}
