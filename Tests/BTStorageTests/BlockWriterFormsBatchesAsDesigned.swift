import BTMetainfo
import BTStorage
import Foundation
import NIOCore
import Testing

/// The blocks of `piece` of `fixture` as received buffers, all from `peer`.
func receivedBlocks(of fixture: Fixture, piece: Int, store: PieceStore, peer: PeerTag = PeerTag(1)) -> [ReceivedBlock] {
    let bytes = fixture.piece(piece)
    return (0..<store.blockCount(ofPiece: piece)).map { block in
        let start = block * PieceStore.blockSize
        let end = min(start + PieceStore.blockSize, bytes.count)
        // A slice of a larger buffer, as the wire decoder hands blocks over: the readable bytes only count.
        var buffer = ByteBuffer(bytes: [0xEE, 0xEE, 0xEE] + bytes[start..<end] + [0xEE])
        buffer.moveReaderIndex(forwardBy: 3)
        buffer.moveWriterIndex(to: buffer.writerIndex - 1)
        return ReceivedBlock(
            BlockRequest(piece: piece, offset: start, length: end - start), bytes: buffer, from: peer)
    }
}

/// What a ``PieceStore/BlockWriter`` delivered: each call's outcomes, and flushes it asked to schedule.
final class WriterProbe: Sendable {
    private let batches = Locked<[PieceStore.BlockWriter.Outcomes]>([])
    private let flushes = Locked<[@Sendable () -> Void]>([])

    var written: @Sendable (PieceStore.BlockWriter.Outcomes) -> Void {
        { [self] outcomes in batches.withLock { $0.append(outcomes) } }
    }
    var scheduleFlush: @Sendable (@escaping @Sendable () -> Void) -> Void {
        { [self] flush in flushes.withLock { $0.append(flush) } }
    }

    /// Outcomes delivered so far, one array per batch.
    var delivered: [PieceStore.BlockWriter.Outcomes] { batches.withLock { $0 } }
    /// Flushes scheduled and not yet run.
    var scheduledFlushes: Int { flushes.withLock { $0.count } }

    /// Runs the scheduled flushes (their delay passed).
    func runFlushes() {
        for flush in flushes.withLock({ f in
            defer { f = [] }; return f
        }) { flush() }
    }

    /// Waits (up to 10 s) until `count` batches were delivered.
    func waitForBatches(_ count: Int) async throws {
        for _ in 0..<10_000 where delivered.count < count { try await Task.sleep(nanoseconds: 1_000_000) }
        try #require(delivered.count >= count, "\(delivered.count) of \(count) batches delivered")
    }
}

/// The schedule alone: nothing is taken below the minimum until the flush comes due; the minimum starts a
/// drain at once; one drainer only; what arrives while it writes forms the next batch when full, or waits
/// for a flush when not.
@Test func scheduleStartsOneDrainAtTheMinimumOrWhenTheFlushComesDue() throws {
    var schedule = BlockBatchSchedule<Int>(minimumBatchBytes: 100, maximumPendingBytes: 1000)
    #expect(try schedule.enqueue(1, bytes: 40, operation: .write) == .scheduleFlush)
    #expect(try schedule.enqueue(2, bytes: 40, operation: .write) == .none, "one flush for the waiting blocks")
    #expect(schedule.flushDue() == .startDrain, "the flush writes what waits, however little")
    #expect(schedule.startBatch() == [1, 2])
    #expect(try schedule.enqueue(3, bytes: 60, operation: .write) == .none, "a drain runs: nothing to start")
    #expect(try schedule.enqueue(4, bytes: 60, operation: .write) == .none)
    #expect(schedule.pendingBytes == 200)
    guard case .next(let next) = schedule.finishBatch() else { Issue.record("a full batch waits"); return }
    #expect(next == [3, 4])
    #expect(try schedule.enqueue(5, bytes: 10, operation: .write) == .none)
    guard case .idle(let complete, let action) = schedule.finishBatch() else {
        Issue.record("10 bytes are not a batch")
        return
    }
    #expect(!complete && action == .scheduleFlush, "the drainer stops and a flush is due for the rest")
    #expect(try schedule.enqueue(6, bytes: 90, operation: .write) == .startDrain, "100 bytes wait: a batch")
    #expect(schedule.startBatch() == [5, 6])
    #expect(schedule.flushDue() == .none, "the flush that comes due while a drain runs does nothing")
}

/// A flush request takes everything whatever its size and is complete when the drainer goes idle; closing
/// refuses items with a typed error.
@Test func scheduleFlushRequestDrainsEverythingAndClosingRefusesItems() throws {
    var schedule = BlockBatchSchedule<Int>(minimumBatchBytes: 100, maximumPendingBytes: 1000)
    #expect(schedule.requestFlush(closing: false) == .done, "nothing waits: done at once")
    _ = try schedule.enqueue(1, bytes: 10, operation: .write)
    #expect(schedule.requestFlush(closing: true) == .wait(startDrain: true))
    #expect(schedule.startBatch() == [1])
    let error = #expect(throws: StorageError.self) { try schedule.enqueue(2, bytes: 10, operation: .write) }
    #expect(error?.code == .cancelled)
    guard case .idle(let complete, let action) = schedule.finishBatch() else {
        Issue.record("nothing is left")
        return
    }
    #expect(complete && action == .none)
}

/// Through the writer: three 16 KiB blocks under a 64 KiB minimum wait for the scheduled flush; a fourth
/// fills the batch and is written at once in one call; each call's outcomes arrive in one callback.
@Test func writerWritesFullBatchesAtOnceAndSmallOnesWhenTheFlushComesDue() async throws {
    var generator = SeededGenerator(seed: 61)
    let fixture = Fixture.v1(sizes: [65536 * 2], pieceLength: 65536, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let store = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    let probe = WriterProbe()
    let writer = PieceStore.BlockWriter(
        store: store, configuration: .init(minimumBatchBytes: 65536), scheduleFlush: probe.scheduleFlush,
        written: probe.written)
    let first = receivedBlocks(of: fixture, piece: 0, store: store)
    let second = receivedBlocks(of: fixture, piece: 1, store: store)
    for block in first.prefix(3) { try writer.enqueue(block) }
    #expect(probe.scheduledFlushes == 1)
    try await Task.sleep(nanoseconds: 50_000_000)
    #expect(probe.delivered.isEmpty, "below the minimum nothing is written before the flush")
    #expect(writer.pendingBytes == 3 * 16384)
    try writer.enqueue(first[3])
    try await probe.waitForBatches(1)
    #expect(probe.delivered[0].map(\.block) == first.map(\.request), "one batch of four blocks")
    #expect(
        try probe.delivered[0].map { try $0.result.get() } == [
            .stored, .stored, .stored, .pieceVerified(piece: 0, peers: [PeerTag(1)]),
        ])
    try writer.enqueue(second[0])
    try await Task.sleep(nanoseconds: 20_000_000)
    #expect(probe.delivered.count == 1)
    probe.runFlushes()  // the scheduled flush comes due
    try await probe.waitForBatches(2)
    #expect(probe.delivered[1].map(\.block) == [second[0].request], "the flush wrote the lone block")
    await writer.flush()
    #expect(writer.pendingBytes == 0)
}
