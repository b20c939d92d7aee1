import BTMetainfo
import BTStorage
import Foundation
import Testing

/// Blocks from several peers, one of them corrupt: the piece fails, is reported with exactly the peers that
/// sent its blocks (piece_hash_fail), is not counted as ours, and verifies once good blocks arrive again.
@Test func failedPieceNamesEveryContributingPeerAndIsNotOurs() async throws {
    var generator = SeededGenerator(seed: 11)
    let fixture = Fixture.v1(sizes: [100_000, 30_000], pieceLength: 65536, generator: &generator)
    let log = EventLog()
    let store = PieceStore(
        torrent: fixture.torrent, storage: MemoryStorage(layout: fixture.torrent.layout), events: log.handler)
    let piece = 0
    let bytes = fixture.piece(piece)
    let blocks = store.blockCount(ofPiece: piece)
    #expect(blocks == 4)
    var results: [BlockWriteResult] = []
    for block in 0..<blocks {
        var data = Array(bytes[(block * 16384)..<((block + 1) * 16384)])
        if block == 2 { data[100] ^= 0xff }  // peer 3 lies
        results.append(
            try await store.writeBlock(
                piece: piece, offset: block * 16384, bytes: data, from: PeerTag(UInt64(block % 2 == 0 ? block + 1 : 9)))
        )
    }
    #expect(results.dropLast().allSatisfy { $0 == .stored })
    #expect(results.last?.withoutBlocks == .pieceFailed(piece: 0, peers: [PeerTag(1), PeerTag(3), PeerTag(9)]))
    #expect(results.last?.failedBlockSenders == [PeerTag(1), PeerTag(9), PeerTag(3), PeerTag(9)])
    #expect(await store.verifiedPieces[0] == false)
    #expect(await store.missingBlocks(ofPiece: 0) == [0, 1, 2, 3])
    #expect(log.events.contains(.pieceHashFail(index: 0, peers: [PeerTag(1), PeerTag(3), PeerTag(9)])))

    for block in 0..<blocks {
        let result = try await store.writeBlock(
            piece: piece, offset: block * 16384, bytes: Array(bytes[(block * 16384)..<((block + 1) * 16384)]),
            from: PeerTag(5))
        #expect(result == (block == blocks - 1 ? .pieceVerified(piece: 0, peers: [PeerTag(5)]) : .stored))
    }
    #expect(await store.verifiedPieces[0])
    #expect(log.events.contains(.pieceHashPass(index: 0)))
    // A verified piece takes no more writes, and its blocks read back.
    #expect(
        try await store.writeBlock(piece: 0, offset: 0, bytes: Array(bytes[0..<16384]), from: PeerTag(6)) == .duplicate)
    #expect(try await store.readBlock(piece: 0, offset: 16384, length: 16384) == Array(bytes[16384..<32768]))
}

/// Blocks that are not blocks of the torrent are typed errors, never crashes.
@Test func malformedBlocksAreRejected() async throws {
    var generator = SeededGenerator(seed: 12)
    let fixture = Fixture.v1(sizes: [40_000], pieceLength: 32768, generator: &generator)
    let store = PieceStore(torrent: fixture.torrent, storage: MemoryStorage(layout: fixture.torrent.layout))
    for (piece, offset, length) in [
        (-1, 0, 16384), (2, 0, 16384), (0, 100, 16384), (0, 0, 100), (1, 0, 16384), (0, 32768, 16384),
    ] {
        let error = await #expect(throws: StorageError.self) {
            try await store.writeBlock(
                piece: piece, offset: offset, bytes: [UInt8](repeating: 0, count: length), from: .local)
        }
        #expect(error?.code == .invalidRequest)
    }
    let error = await #expect(throws: StorageError.self) { try await store.readBlock(piece: 0, offset: 0, length: 10) }
    #expect(error?.code == .invalidRequest)
}

/// The file events of the seed's catalogue come with their fields, through the AsyncStream helper too.
@Test func fileEventsCarryTheSeedFields() async throws {
    var generator = SeededGenerator(seed: 13)
    let fixture = Fixture.v1(sizes: [16384], pieceLength: 16384, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let (stream, handler, finish) = StorageEvent.makeStream()
    let storage = FileStorage(torrent: fixture.torrent, folder: folder.path, events: handler)
    let store = PieceStore(torrent: fixture.torrent, storage: storage, events: handler)
    #expect(
        try await store.writeBlock(piece: 0, offset: 0, bytes: fixture.contents[0], from: .local)
            == .pieceVerified(piece: 0, peers: [.local]))
    _ = try await store.readBlock(piece: 0, offset: 0, length: 100)
    // A whole block too (the piece was hashed from the written bytes, so nothing read it back).
    _ = try await store.readBlock(piece: 0, offset: 0, length: 16384)
    storage.closeFiles()
    finish()
    var seen: [StorageEvent] = []
    for await event in stream { seen.append(event) }
    let file = StorageFileRef(index: 0, path: ["fixture", "dir0", "file0.bin"])
    #expect(seen.contains(.fileOpen(file: file, mode: .write)))
    #expect(seen.contains(.fileWrite(file: file, length: 16384)))
    #expect(seen.contains(.fileRead(file: file, length: 16384)))
    #expect(seen.contains(.fileRead(file: file, length: 100)))
    #expect(seen.contains(.pieceHashPass(index: 0)))
    #expect(seen.contains(.fileClose(file: file)))
    // After completion handles were dropped: the upload read reopened the file read-only (seeding).
    #expect(seen.contains(.fileOpen(file: file, mode: .read)))
}
