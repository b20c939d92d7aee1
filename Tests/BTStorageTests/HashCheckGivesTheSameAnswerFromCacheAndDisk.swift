import BTMetainfo
import BTStorage
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

#if os(Linux)
    /// Flushes `path` and asks the kernel to drop its cached pages, so the next reads come from disk (the hash
    /// check's read-ahead path).
    private func evictFromPageCache(_ path: String) throws {
        let descriptor = open(path, O_RDONLY)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        #expect(fsync(descriptor) == 0)
        #expect(posix_fadvise(descriptor, 0, 0, POSIX_FADV_DONTNEED) == 0)
    }

    /// Cache-only reads return the file's own bytes, stop at its end, and read a missing file as empty.
    @Test func cachedReadsReturnTheFileBytesAndStopAtItsEnd() throws {
        var generator = SeededGenerator(seed: 7)
        let fixture = Fixture.v1(sizes: [100_000, 5000], pieceLength: 16384, generator: &generator)
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        try fixture.writeFiles(to: folder.path)
        try FileManager.default.removeItem(atPath: fixture.path(ofFile: 1, in: folder.path))
        let storage = FileStorage(torrent: fixture.torrent, folder: folder.path)

        var buffer = [UInt8](repeating: 0, count: 120_000)
        let plain = try buffer.withUnsafeMutableBytes { try storage.read(file: 0, offset: 0, into: $0) }
        #expect(plain == 100_000)
        buffer = [UInt8](repeating: 0, count: 120_000)
        let cached = try buffer.withUnsafeMutableBytes { try storage.readCached(file: 0, offset: 1000, into: $0) }
        #expect(cached == 99_000)
        #expect(Array(buffer[0..<99_000]) == Array(fixture.contents[0][1000...]))
        let missing = try buffer.withUnsafeMutableBytes { try storage.readCached(file: 1, offset: 0, into: $0) }
        #expect(missing == 0)
    }

    /// With nothing in the page cache (so reads come from disk and read-ahead hints are given), the check
    /// still reports exactly the corrupted pieces, both in a full check and in the partial re-check of files
    /// that changed since the resume data was saved (a non-contiguous subset of pieces); read with `pread` or
    /// mapped (the store's check mode, which the resumed start follows too).
    @Test(arguments: [HashCheckMode.read, .mapped])
    func hashCheckFindsExactlyTheCorruptedPiecesWhenNothingIsCached(mode: HashCheckMode) async throws {
        var generator = SeededGenerator(seed: 99)
        let sizes = [3_000_000, 1_500_000, 2_000_000, 700_000, 2_500_000]
        let fixture = Fixture.v1(sizes: sizes, pieceLength: 32768, generator: &generator)
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        try fixture.writeFiles(to: folder.path)
        let layout = fixture.torrent.layout
        let resumePath = folder.path + "/resume"

        let first = PieceStore(
            torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
        let all = try await first.checkExistingData()
        #expect(all.isAllSet)
        try await first.saveResumeData(to: resumePath)

        // Corrupt one byte in files 0, 2 and 4; mark 0 and 4 as changed since the save (file 2 keeps its time,
        // so the resumed check trusts it, as it should: only the full check can see that one).
        var corrupted: [Int: Int] = [:]
        for file in [0, 2, 4] {
            let position = Int64.random(in: 0..<layout.files[file].length, using: &generator)
            let path = fixture.path(ofFile: file, in: folder.path)
            var before = stat()
            try #require(stat(path, &before) == 0)
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            try handle.seek(toOffset: UInt64(position))
            let old = try handle.read(upToCount: 1)![0]
            try handle.seek(toOffset: UInt64(position))
            try handle.write(contentsOf: [old ^ 0x5a])
            try handle.close()
            // Put back the exact old time (nanoseconds included) or set one far in the past.
            let stamp = file == 2 ? before.st_mtim : timespec(tv_sec: 1_000_000, tv_nsec: 0)
            let times = [before.st_atim, stamp]
            try #require(utimensat(AT_FDCWD, path, times, 0) == 0)
            corrupted[file] = Int((layout.files[file].offset + position) / Int64(layout.pieceLength))
        }
        for file in layout.files.indices { try evictFromPageCache(fixture.path(ofFile: file, in: folder.path)) }

        let resumed = PieceStore(
            torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
        await resumed.setCheckMode(mode)
        let outcome = try await resumed.start(resumeDataAt: resumePath)
        guard case .resumed(let changed, _) = outcome else {
            Issue.record("expected a resumed start, got \(outcome)")
            return
        }
        #expect(changed == [0, 4])
        let afterResume = await resumed.verifiedPieces
        #expect(Set((0..<layout.pieceCount).filter { !afterResume[$0] }) == [corrupted[0]!, corrupted[4]!])

        for file in layout.files.indices { try evictFromPageCache(fixture.path(ofFile: file, in: folder.path)) }
        let full = PieceStore(
            torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
        let progress = Locked(0)
        let verified = try await full.checkExistingData(mode: mode) { update in
            progress.withLock { $0 = max($0, update.checked) }
        }
        #expect(Set((0..<layout.pieceCount).filter { !verified[$0] }) == Set(corrupted.values))
        #expect(progress.withLock { $0 } == layout.pieceCount)
    }
#endif
