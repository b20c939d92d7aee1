import BTMetainfo
import BTStorage
import Foundation
import Testing

/// The blocks of `piece` of `fixture` as batch items, all from `peer`.
func batchBlocks(of fixture: Fixture, piece: Int, store: PieceStore, peer: PeerTag = PeerTag(1)) -> [BlockWrite] {
    let bytes = fixture.piece(piece)
    return (0..<store.blockCount(ofPiece: piece)).map { block in
        let start = block * PieceStore.blockSize
        let end = min(start + PieceStore.blockSize, bytes.count)
        return BlockWrite(piece: piece, offset: start, bytes: Array(bytes[start..<end]), from: peer)
    }
}

/// A batch holding a piece's blocks in order writes them with one gathered write and verifies the piece
/// from the received bytes: nothing is read back from disk.
@Test func inOrderBatchVerifiesWithoutReadingThePieceBack() async throws {
    var generator = SeededGenerator(seed: 41)
    let fixture = Fixture.v1(sizes: [65536 * 2], pieceLength: 65536, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let log = EventLog()
    let storage = FileStorage(torrent: fixture.torrent, folder: folder.path, events: log.handler)
    let store = PieceStore(torrent: fixture.torrent, storage: storage, events: log.handler)
    let results = await store.writeBlocks(batchBlocks(of: fixture, piece: 0, store: store))
    #expect(results.count == 4)
    #expect(try results.dropLast().allSatisfy { try $0.get() == .stored })
    #expect(try results.last?.get() == .pieceVerified(piece: 0, peers: [PeerTag(1)]))
    #expect(await store.verifiedPieces[0])
    let reads = log.events.filter { if case .fileRead = $0 { return true } else { return false } }
    #expect(reads.isEmpty, "the piece was hashed from the received bytes")
    let writes = log.events.compactMap { event -> Int? in
        if case .fileWrite(_, let length) = event { return length } else { return nil }
    }
    #expect(writes == [65536], "four adjacent blocks, one gathered write")
    #expect(try await store.readBlock(piece: 0, offset: 16384, length: 16384) == Array(fixture.piece(0)[16384..<32768]))
}

/// A piece whose blocks come in order over several batches still hashes from the received bytes; blocks
/// reversed inside one batch are put in order first.
@Test func inOrderBlocksOverSeveralBatchesAndReversedInOneBatchVerifyWithoutReading() async throws {
    var generator = SeededGenerator(seed: 42)
    let fixture = Fixture.v1(sizes: [65536 * 2], pieceLength: 65536, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let log = EventLog()
    let storage = FileStorage(torrent: fixture.torrent, folder: folder.path, events: log.handler)
    let store = PieceStore(torrent: fixture.torrent, storage: storage, events: log.handler)
    let first = batchBlocks(of: fixture, piece: 0, store: store)
    var outcomes: [BlockWriteResult] = []
    for block in first { outcomes += try await store.writeBlocks([block]).map { try $0.get() } }
    #expect(outcomes == [.stored, .stored, .stored, .pieceVerified(piece: 0, peers: [PeerTag(1)])])
    let second = try await store.writeBlocks(batchBlocks(of: fixture, piece: 1, store: store).reversed())
        .map { try $0.get() }
    // Results come back in the order of the batch: the first item (the last block) completed the piece.
    #expect(second == [.pieceVerified(piece: 1, peers: [PeerTag(1)]), .stored, .stored, .stored])
    #expect(await store.isComplete)
    #expect(!log.events.contains { if case .fileRead = $0 { return true } else { return false } })
}

/// Blocks that arrive out of order across batches stall the running hash after the blocks that came in
/// order: once the piece is complete only the bytes past them are read back, and the piece verifies.
@Test func outOfOrderBlocksAcrossBatchesVerifyByReadingThePieceBack() async throws {
    var generator = SeededGenerator(seed: 43)
    let fixture = Fixture.v1(sizes: [65536], pieceLength: 65536, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let log = EventLog()
    let storage = FileStorage(torrent: fixture.torrent, folder: folder.path, events: log.handler)
    let store = PieceStore(torrent: fixture.torrent, storage: storage, events: log.handler)
    let blocks = batchBlocks(of: fixture, piece: 0, store: store)
    #expect(try await store.writeBlocks([blocks[1], blocks[3]]).map { try $0.get() } == [.stored, .stored])
    #expect(await store.missingBlocks(ofPiece: 0) == [0, 2])
    // Written in piece order (block 0, then block 2): block 2, first in the batch, completes the piece.
    #expect(
        try await store.writeBlocks([blocks[2], blocks[0]]).map { try $0.get() } == [
            .pieceVerified(piece: 0, peers: [PeerTag(1)]), .stored,
        ])
    // Block 0 was hashed as written; blocks 1 to 3 (48 KiB) were read back.
    let read = log.events.reduce(0) { total, event in
        if case .fileRead(_, let length) = event { return total + length } else { return total }
    }
    #expect(read == 3 * 16384)
    #expect(log.events.contains(.pieceHashPass(index: 0)))
}

/// Random torrents (files spanning pieces, pad files, a short last piece), their blocks written in random
/// batches in random order: every piece verifies and every file holds exactly its content.
@Test(arguments: [51, 52, 53, 54] as [UInt64])
func randomBatchesInRandomOrderWriteEveryFileExactly(seed: UInt64) async throws {
    var generator = SeededGenerator(seed: seed)
    let sizes = (0..<Int.random(in: 2...5, using: &generator)).map { _ in Int.random(in: 1...150_000, using: &generator)
    }
    let fixture = Fixture.v1(
        sizes: sizes, pieceLength: 32768, padAligned: Bool.random(using: &generator), generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let storage = FileStorage(torrent: fixture.torrent, folder: folder.path)
    let store = PieceStore(torrent: fixture.torrent, storage: storage)
    var blocks = (0..<fixture.torrent.layout.pieceCount).flatMap {
        batchBlocks(of: fixture, piece: $0, store: store, peer: PeerTag(UInt64($0)))
    }
    // Mostly in order with some blocks moved, so both hash paths run.
    for _ in 0..<(blocks.count / 4) {
        blocks.swapAt(
            Int.random(in: 0..<blocks.count, using: &generator), Int.random(in: 0..<blocks.count, using: &generator))
    }
    var verified = 0
    while !blocks.isEmpty {
        let count = min(blocks.count, Int.random(in: 1...9, using: &generator))
        for result in await store.writeBlocks(Array(blocks.prefix(count))) {
            if case .pieceVerified = try result.get() { verified += 1 }
        }
        blocks.removeFirst(count)
    }
    #expect(verified == fixture.torrent.layout.pieceCount)
    #expect(await store.isComplete)
    for (index, file) in fixture.torrent.files.enumerated() where !file.isPadFile {
        let data = FileManager.default.contents(atPath: fixture.path(ofFile: index, in: folder.path))
        #expect(data.map { Array($0) } == fixture.contents[index], "file \(index)")
    }
}
