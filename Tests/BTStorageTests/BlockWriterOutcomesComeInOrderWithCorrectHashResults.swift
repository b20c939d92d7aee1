import BTMetainfo
import BTStorage
import Foundation
import NIOCore
import Testing

/// A writer over a fresh folder for `fixture`, with a probe, batching at `minimumBatchBytes`.
private func makeWriter(
    _ fixture: Fixture, folder: TemporaryFolder, log: EventLog? = nil, minimumBatchBytes: Int = 512 * 1024
) -> (PieceStore, PieceStore.BlockWriter, WriterProbe) {
    let storage = FileStorage(torrent: fixture.torrent, folder: folder.path, events: log?.handler)
    let store = PieceStore(torrent: fixture.torrent, storage: storage, events: log?.handler)
    let probe = WriterProbe()
    let writer = PieceStore.BlockWriter(
        store: store, configuration: .init(minimumBatchBytes: minimumBatchBytes), scheduleFlush: probe.scheduleFlush,
        written: probe.written)
    return (store, writer, probe)
}

/// Blocks of several pieces queued in a shuffled order come back once each, in the order they were queued,
/// across every batch; in-order pieces verify from the buffers without a byte read back from disk.
@Test func outcomesComeBackInQueueOrderAndInOrderPiecesHashFromTheBuffers() async throws {
    var generator = SeededGenerator(seed: 62)
    let fixture = Fixture.v1(sizes: [65536 * 3, 40000], pieceLength: 65536, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let log = EventLog()
    let (store, writer, probe) = makeWriter(fixture, folder: folder, log: log, minimumBatchBytes: 3 * 16384)
    let pieces = (0..<fixture.torrent.layout.pieceCount).map { receivedBlocks(of: fixture, piece: $0, store: store) }
    // Pieces interleaved, each piece's blocks in order.
    var queued: [ReceivedBlock] = []
    for index in 0..<4 { for piece in pieces where index < piece.count { queued.append(piece[index]) } }
    // Three groups, each flushed: at least three batches, a piece's blocks split between them.
    for (index, block) in queued.enumerated() {
        try writer.enqueue(block)
        if index == 4 || index == 9 { await writer.flush() }
    }
    await writer.shutdown()
    let outcomes = probe.delivered.flatMap { $0 }
    #expect(outcomes.map(\.block) == queued.map(\.request))
    #expect(probe.delivered.count >= 3, "several batches")
    let verified = try outcomes.compactMap { outcome -> Int? in
        if case .pieceVerified(let piece, _) = try outcome.result.get() { return piece } else { return nil }
    }
    #expect(verified.sorted() == Array(0..<fixture.torrent.layout.pieceCount))
    #expect(await store.isComplete)
    #expect(!log.events.contains { if case .fileRead = $0 { return true } else { return false } })
    for (index, file) in fixture.torrent.files.enumerated() {
        #expect(
            FileManager.default.contents(atPath: fixture.path(ofFile: index, in: folder.path))
                == Data(fixture.contents[index]), "\(file.path)")
    }
}

/// A piece whose blocks come out of order, in separate batches, still verifies (its tail read back), and a
/// piece with one corrupted block fails naming both peers that sent blocks of it.
@Test func outOfOrderPiecesVerifyAndACorruptedPieceFailsNamingItsPeers() async throws {
    var generator = SeededGenerator(seed: 63)
    let fixture = Fixture.v1(sizes: [65536 * 2], pieceLength: 65536, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let (store, writer, probe) = makeWriter(fixture, folder: folder)
    let first = receivedBlocks(of: fixture, piece: 0, store: store)
    for index in [3, 1] { try writer.enqueue(first[index]) }
    await writer.flush()
    for index in [2, 0] { try writer.enqueue(first[index]) }
    await writer.flush()
    #expect(
        try probe.delivered[1].map { try $0.result.get() } == [.pieceVerified(piece: 0, peers: [PeerTag(1)]), .stored],
        "results in queue order: block 2 completed the piece")

    var second = receivedBlocks(of: fixture, piece: 1, store: store, peer: PeerTag(7))
    var corrupted = second[2].bytes
    corrupted.setInteger(~corrupted.getInteger(at: corrupted.readerIndex, as: UInt8.self)!, at: corrupted.readerIndex)
    second[2] = ReceivedBlock(second[2].request, bytes: corrupted, from: PeerTag(8))
    for block in second { try writer.enqueue(block) }
    await writer.flush()
    #expect(
        try probe.delivered.last?.map { try $0.result.get().withoutBlocks }
            == [.stored, .stored, .stored, .pieceFailed(piece: 1, peers: [PeerTag(7), PeerTag(8)])])
    let verified = await store.verifiedPieces
    #expect(verified[0] && !verified[1])
    #expect(await store.missingBlocks(ofPiece: 1) == [0, 1, 2, 3], "a failed piece is fetched again")
}

/// A buffer whose readable bytes differ from the request's length, and a block outside the torrent, fail
/// on their own with `invalidRequest`; the good block of the same batch is written.
@Test func mislabelledBuffersFailOnTheirOwnWithInvalidRequest() async throws {
    var generator = SeededGenerator(seed: 64)
    let fixture = Fixture.v1(sizes: [65536], pieceLength: 65536, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let (store, writer, probe) = makeWriter(fixture, folder: folder)
    let blocks = receivedBlocks(of: fixture, piece: 0, store: store)
    let short = ReceivedBlock(
        blocks[1].request, bytes: blocks[1].bytes.getSlice(at: blocks[1].bytes.readerIndex, length: 100)!,
        from: PeerTag(1))
    let outside = ReceivedBlock(
        BlockRequest(piece: 5, offset: 0, length: 16384), bytes: blocks[2].bytes, from: PeerTag(1))
    let lying = ReceivedBlock(
        BlockRequest(piece: 0, offset: 32768, length: 100), bytes: blocks[2].bytes, from: PeerTag(1))
    for block in [blocks[0], short, outside, lying] { try writer.enqueue(block) }
    await writer.flush()
    let results = probe.delivered.flatMap { $0 }.map(\.result)
    #expect(try results[0].get() == .stored)
    for result in results.dropFirst() {
        #expect(throws: StorageError.self) { try result.get() }
        if case .failure(let error) = result { #expect(error.code == .invalidRequest) }
    }
}
