import BTMetainfo
import BTStorage
import Foundation
import Testing

/// BEP 52 keeps `piece layers` outside the info dictionary, so a .torrent stripped of them has the same
/// info-hash. A stripped hybrid still verifies every piece with its v1 SHA-1 hashes (good data passes, bad
/// data fails); a stripped v2-only torrent is refused up front with `missingPieceLayers` instead of failing
/// every piece and blaming the peers that sent it.
struct StrippedPieceLayersNeverBlameHonestPeers {
    /// Content of three files, two of them several pieces long, made into a torrent of `version`.
    static func make(_ version: TorrentVersion, in folder: String) throws -> Torrent {
        let content = folder + "/content"
        try FileManager.default.createDirectory(atPath: content + "/sub", withIntermediateDirectories: true)
        var generator = SeededGenerator(seed: 52)
        for (name, size) in [("a.bin", 100_000), ("sub/b.bin", 40_000), ("c.bin", 5_000)] {
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try Data(bytes).write(to: URL(fileURLWithPath: content + "/" + name))
        }
        var creator = TorrentCreator(path: content)
        creator.version = version
        creator.pieceLength = 16_384
        return try creator.create()
    }

    /// The same torrent parsed back from a .torrent file without `piece layers`.
    static func stripped(_ torrent: Torrent) throws -> Torrent {
        var copy = torrent
        copy.pieceLayers = [:]
        return try Torrent(bytes: copy.encoded())
    }

    @Test func strippedHybridVerifiesWithItsV1Hashes() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let full = try Self.make(.hybrid, in: folder.path)
        let torrent = try Self.stripped(full)
        #expect(torrent.infoHashes == full.infoHashes)
        #expect(!full.pieceLayers.isEmpty && torrent.pieceLayers.isEmpty)
        #expect(torrent.filesMissingPieceLayers.count == 2)
        try torrent.requireAllPieceHashes()

        // The data as the creator read it (folder/content) verifies piece by piece.
        let store = PieceStore(torrent: torrent, storage: FileStorage(torrent: torrent, folder: folder.path))
        let verified = try await store.checkExistingData()
        #expect(verified.isAllSet)

        // A wrong byte in a piece of a file without its layer fails that piece only.
        let verifier = PieceVerifier(torrent: torrent)
        let storage = FileStorage(torrent: torrent, folder: folder.path)
        var piece = [UInt8](repeating: 0, count: torrent.layout.size(ofPiece: 1))
        for slice in torrent.layout.slices(piece: 1) where !torrent.files[slice.fileIndex].isPadFile {
            try piece.withUnsafeMutableBytes { buffer in
                _ = try storage.read(
                    file: slice.fileIndex, offset: slice.offsetInFile,
                    into: UnsafeMutableRawBufferPointer(
                        rebasing: buffer[slice.offsetInRange..<(slice.offsetInRange + slice.length)]))
            }
        }
        #expect(piece.withUnsafeBytes { verifier.verify(piece: 1, data: $0) })
        piece[100] ^= 0xFF
        #expect(!piece.withUnsafeBytes { verifier.verify(piece: 1, data: $0) })
    }

    @Test func strippedV2OnlyTorrentIsRefusedBeforeAnyPieceIsChecked() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let full = try Self.make(.v2, in: folder.path)
        let torrent = try Self.stripped(full)
        #expect(torrent.infoHashes == full.infoHashes)
        #expect(torrent.filesMissingPieceLayers.count == 2)
        let store = PieceStore(torrent: torrent, storage: FileStorage(torrent: torrent, folder: folder.path))
        await #expect(throws: MetainfoError.self) { try await store.start(resumeDataAt: nil) }
        do {
            try await store.checkExistingData()
            Issue.record("a v2-only torrent without piece layers was checked")
        } catch let error as MetainfoError {
            #expect(error.code == .missingPieceLayers)
        }
        // With its layers the same torrent checks fine.
        let complete = PieceStore(torrent: full, storage: FileStorage(torrent: full, folder: folder.path))
        #expect(try await complete.checkExistingData().isAllSet)
    }
}
