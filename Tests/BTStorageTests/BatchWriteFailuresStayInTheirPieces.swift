import BTMetainfo
import BTStorage
import Foundation
import Testing

/// A ``MemoryStorage`` whose writes to the files in `failing` fail with a disk-full error.
private final class FailingStorage: Storage, @unchecked Sendable {
    let inner: MemoryStorage
    let failing: Locked<Set<Int>>
    init(layout: PieceLayout, failing: Set<Int>) {
        inner = MemoryStorage(layout: layout)
        self.failing = Locked(failing)
    }
    var layout: PieceLayout { inner.layout }
    func path(ofFile index: Int) -> [String] { inner.path(ofFile: index) }
    func read(file: Int, offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try inner.read(file: file, offset: offset, into: buffer)
    }
    func write(file: Int, offset: Int64, from buffer: UnsafeRawBufferPointer) throws {
        if failing.withLock({ $0.contains(file) }) {
            throw StorageError(.diskFull, .write, path: "file\(file)", reason: "no space left on device")
        }
        try inner.write(file: file, offset: offset, from: buffer)
    }
    func status(ofFile file: Int) throws -> FileStatus? { try inner.status(ofFile: file) }
    func createFile(_ file: Int) throws { try inner.createFile(file) }
    func synchronize() throws { try inner.synchronize() }
    func closeFiles() { inner.closeFiles() }
    func renameFile(_ file: Int, to path: [String]) throws { try inner.renameFile(file, to: path) }
    func move(to folder: String) throws { try inner.move(to: folder) }
    func removeData() throws { try inner.removeData() }
}

/// One batch holding two pieces, one block of the second corrupted: the first piece verifies, the second
/// fails naming exactly the peers that sent its blocks, and all its blocks are wanted again.
@Test func corruptedBlockInABatchFailsExactlyItsPieceNamingItsPeers() async throws {
    var generator = SeededGenerator(seed: 61)
    let fixture = Fixture.v1(sizes: [65536 * 2], pieceLength: 65536, generator: &generator)
    let log = EventLog()
    let store = PieceStore(
        torrent: fixture.torrent, storage: MemoryStorage(layout: fixture.torrent.layout), events: log.handler)
    var first = batchBlocks(of: fixture, piece: 0, store: store, peer: PeerTag(1))
    first[2].peer = PeerTag(2)
    var second = batchBlocks(of: fixture, piece: 1, store: store, peer: PeerTag(3))
    second[1].bytes[7] ^= 0x5a
    second[1].peer = PeerTag(4)
    second[3].peer = PeerTag(5)
    // Interleaved, as blocks of two pieces from several peers arrive.
    let batch = zip(first, second).flatMap { [$0, $1] }
    let results = try await store.writeBlocks(batch).map { try $0.get() }
    #expect(results[6] == .pieceVerified(piece: 0, peers: [PeerTag(1), PeerTag(2)]))
    #expect(results[7].withoutBlocks == .pieceFailed(piece: 1, peers: [PeerTag(3), PeerTag(4), PeerTag(5)]))
    #expect(results[7].failedBlockSenders?.count == 4)
    #expect(results.prefix(6).allSatisfy { $0 == .stored })
    #expect(await store.verifiedPieces[0])
    #expect(await !store.verifiedPieces[1])
    #expect(await store.missingBlocks(ofPiece: 1) == [0, 1, 2, 3])
    #expect(log.events.contains(.pieceHashFail(index: 1, peers: [PeerTag(3), PeerTag(4), PeerTag(5)])))
    #expect(!log.events.contains { if case .pieceHashFail(0, _) = $0 { return true } else { return false } })
}

/// A write error inside a batch fails the blocks of the piece it hit and nothing else: the other piece of
/// the batch verifies, the failed piece is not verified and its failed blocks are wanted again; once the
/// disk works again the piece completes (read back, since its running hash has a hole) and verifies.
@Test func writeErrorInABatchFailsOnlyTheAffectedPiece() async throws {
    var generator = SeededGenerator(seed: 62)
    // Two files of one piece each: piece 0 is file 0, piece 1 is file 1.
    let fixture = Fixture.v1(sizes: [65536, 65536], pieceLength: 65536, generator: &generator)
    let storage = FailingStorage(layout: fixture.torrent.layout, failing: [1])
    let store = PieceStore(torrent: fixture.torrent, storage: storage)
    let first = batchBlocks(of: fixture, piece: 0, store: store, peer: PeerTag(1))
    let second = batchBlocks(of: fixture, piece: 1, store: store, peer: PeerTag(2))
    let results = await store.writeBlocks(Array(second.prefix(2)) + first)
    for result in results.prefix(2) {
        guard case .failure(let error) = result else {
            Issue.record("a block written to the failing file succeeded")
            continue
        }
        #expect(error.code == .diskFull)
    }
    #expect(
        try results.suffix(4).map { try $0.get() } == [
            .stored, .stored, .stored, .pieceVerified(piece: 0, peers: [PeerTag(1)]),
        ])
    #expect(await store.verifiedPieces[0])
    #expect(await !store.verifiedPieces[1])
    #expect(await store.missingBlocks(ofPiece: 1) == [0, 1, 2, 3])

    storage.failing.withLock { $0 = [] }
    let retried = try await store.writeBlocks(second).map { try $0.get() }
    #expect(retried == [.stored, .stored, .stored, .pieceVerified(piece: 1, peers: [PeerTag(2)])])
    #expect(await store.isComplete)
    #expect(storage.inner.contents(ofFile: 1) == fixture.contents[1])
}

/// Resume data taken between batches lists exactly the written blocks of the partial piece; a store
/// restored from it (no running hash: its first blocks came before the restart) completes the piece by
/// reading it back, and verifies it.
@Test func batchWrittenBlocksSurviveAResumeAndThePieceVerifiesAfterIt() async throws {
    var generator = SeededGenerator(seed: 63)
    let fixture = Fixture.v1(sizes: [65536 * 2], pieceLength: 65536, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let store = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    let blocks = batchBlocks(of: fixture, piece: 1, store: store)
    _ = try await store.writeBlocks([blocks[0], blocks[1]]).map { try $0.get() }
    let resume = try await store.resumeData()
    #expect(resume.partialPieces.keys.sorted() == [1])
    let map = try #require(resume.partialPieces[1])
    #expect((0..<4).map { map[$0] } == [true, true, false, false])

    let log = EventLog()
    let restored = PieceStore(
        torrent: fixture.torrent,
        storage: FileStorage(torrent: fixture.torrent, folder: folder.path, events: log.handler))
    _ = try await restored.restore(from: resume)
    #expect(await restored.missingBlocks(ofPiece: 1) == [2, 3])
    let results = try await restored.writeBlocks([blocks[2], blocks[3]]).map { try $0.get() }
    #expect(results == [.stored, .pieceVerified(piece: 1, peers: [PeerTag(1)])])
    #expect(log.events.contains { if case .fileRead = $0 { return true } else { return false } })
}

/// Blocks out of order with one corrupted, whether the corrupt block was hashed as written (block 0,
/// before the running hash stalled) or read back (blocks 1 to 3): the piece fails, naming its peers.
@Test(arguments: [0, 1, 2, 3])
func corruptedBlockFailsThePieceWhetherHashedAsWrittenOrReadBack(corrupted: Int) async throws {
    var generator = SeededGenerator(seed: 64)
    let fixture = Fixture.v1(sizes: [65536], pieceLength: 65536, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let store = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    var blocks = batchBlocks(of: fixture, piece: 0, store: store, peer: PeerTag(1))
    blocks[corrupted].bytes[100] ^= 0x01
    blocks[2].peer = PeerTag(2)
    #expect(try await store.writeBlocks([blocks[1], blocks[3]]).map { try $0.get() } == [.stored, .stored])
    let results = try await store.writeBlocks([blocks[2], blocks[0]]).map { try $0.get() }
    #expect(results.map(\.withoutBlocks) == [.pieceFailed(piece: 0, peers: [PeerTag(1), PeerTag(2)]), .stored])
    // The evidence of a v1 piece too: each block's sender (and hash), for the engine's smart ban.
    #expect(results[0].failedBlockSenders == [PeerTag(1), PeerTag(1), PeerTag(2), PeerTag(1)])
    #expect(await !store.verifiedPieces[0])
    #expect(await store.missingBlocks(ofPiece: 0) == [0, 1, 2, 3])
}
