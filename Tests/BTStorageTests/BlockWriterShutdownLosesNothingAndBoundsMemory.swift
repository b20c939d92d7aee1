import BTMetainfo
import BTStorage
import Foundation
import NIOCore
import Testing

/// Blocks queued below the batch minimum, with a flush that never comes due: shutdown writes every one of
/// them, returns only after their outcomes were delivered, and refuses blocks from then on.
@Test func shutdownWritesEveryQueuedBlockBeforeReturning() async throws {
    var generator = SeededGenerator(seed: 66)
    let fixture = Fixture.v1(sizes: [65536 * 3], pieceLength: 65536, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let store = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    let probe = WriterProbe()
    let writer = PieceStore.BlockWriter(
        store: store, configuration: .init(minimumBatchBytes: 1 << 30), scheduleFlush: { _ in },  // never due
        written: probe.written)
    let blocks = (0..<3).flatMap { receivedBlocks(of: fixture, piece: $0, store: store) }
    for block in blocks { try writer.enqueue(block) }
    #expect(writer.pendingBytes == 3 * 65536)
    #expect(probe.delivered.isEmpty)
    await writer.shutdown()
    #expect(probe.delivered.flatMap { $0 }.count == blocks.count, "every outcome delivered before shutdown returned")
    #expect(writer.pendingBytes == 0)
    #expect(await store.isComplete)
    #expect(FileManager.default.contents(atPath: fixture.path(ofFile: 0, in: folder.path)) == Data(fixture.stream))
    let error = #expect(throws: StorageError.self) { try writer.enqueue(blocks[0]) }
    #expect(error?.code == .cancelled)
    await writer.shutdown()  // a second shutdown has nothing to wait for
}

/// Blocks queued after a full batch started writing (while it may still be running) are all written
/// before shutdown returns, and their outcomes come in queue order after the batch's.
@Test func shutdownAlsoWritesBlocksQueuedAfterABatchStarted() async throws {
    var generator = SeededGenerator(seed: 67)
    let fixture = Fixture.v1(sizes: [65536 * 4], pieceLength: 65536, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let store = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    let probe = WriterProbe()
    let writer = PieceStore.BlockWriter(
        store: store, configuration: .init(minimumBatchBytes: 65536), scheduleFlush: { _ in }, written: probe.written)
    let blocks = (0..<4).flatMap { receivedBlocks(of: fixture, piece: $0, store: store) }
    for block in blocks.prefix(4) { try writer.enqueue(block) }  // a full batch: a write starts
    for block in blocks.dropFirst(4).dropLast() { try writer.enqueue(block) }
    await Task.yield()
    try writer.enqueue(blocks[blocks.count - 1])  // alone below the minimum, with a flush that never comes
    await writer.shutdown()
    #expect(probe.delivered.flatMap { $0 }.map(\.block) == blocks.map(\.request))
    #expect(writer.pendingBytes == 0)
    #expect(await store.isComplete)
}

/// The writer holds at most its configured bytes: a block that would pass the limit is refused with
/// `backlogFull` (not queued, no outcome), and is accepted again once the backlog was written.
@Test func pendingBytesAreReportedAndBoundedByTheLimit() async throws {
    var generator = SeededGenerator(seed: 68)
    let fixture = Fixture.v1(sizes: [65536 * 2], pieceLength: 65536, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let store = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    let probe = WriterProbe()
    let writer = PieceStore.BlockWriter(
        store: store, configuration: .init(minimumBatchBytes: 1 << 20, maximumPendingBytes: 3 * 16384),
        scheduleFlush: { _ in }, written: probe.written)
    let blocks = receivedBlocks(of: fixture, piece: 0, store: store)
    for block in blocks.prefix(3) { try writer.enqueue(block) }
    #expect(writer.pendingBytes == 3 * 16384)
    let error = #expect(throws: StorageError.self) { try writer.enqueue(blocks[3]) }
    #expect(error?.code == .backlogFull)
    #expect(writer.pendingBytes == 3 * 16384, "the refused block is not held")
    await writer.flush()
    #expect(writer.pendingBytes == 0)
    try writer.enqueue(blocks[3])
    await writer.flush()
    #expect(probe.delivered.flatMap { $0 }.map(\.block) == blocks.map(\.request))
    #expect(await store.verifiedPieces[0])
}
