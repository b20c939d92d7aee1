import BTMetainfo
import BTStorage
import Foundation
import Testing

@testable import BTEngine

/// The write queue groups blocks: it starts a write only once a batch's worth of bytes waits, and a
/// smaller remainder waits for the flush it scheduled, so a trickle still reaches the store.
@Suite struct BlockWriteQueueWritesInLargeBatches {
    /// A queue over an in-memory store of the transfer tests' torrent (48 KiB pieces: three blocks), the
    /// first piece's real blocks, and recorders for the batches written and the flushes scheduled.
    private struct Setup {
        let queue: BlockWriteQueue
        let blocks: [BlockWriteQueue.Item]
        let batches: Recorder<BlockWriteQueue.Outcomes>
        let flushes: Recorder<@Sendable () -> Void>
    }

    private func setup(minimumBatchBytes: Int) throws -> Setup {
        let folder = NSTemporaryDirectory() + "nbt-write-queue-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeTorrent(in: folder)
        let payload = try #require(FileManager.default.contents(atPath: "\(folder)/payload/alpha.bin"))
        let store = PieceStore(torrent: torrent, storage: MemoryStorage(layout: torrent.layout))
        let batches = Recorder<BlockWriteQueue.Outcomes>()
        let flushes = Recorder<@Sendable () -> Void>()
        let queue = BlockWriteQueue(
            store: store, minimumBatchBytes: minimumBatchBytes, scheduleFlush: { flushes.append($0) },
            written: { batches.append($0) })
        let blocks = (0..<3).map { index in
            BlockWriteQueue.Item(
                block: BlockRequest(piece: 0, offset: index * 16384, length: 16384),
                bytes: Array(payload[index * 16384..<(index + 1) * 16384]), peer: PeerTag(1))
        }
        return Setup(queue: queue, blocks: blocks, batches: batches, flushes: flushes)
    }

    /// Polls until `count` outcomes arrived or a generous bound passes (a safety bound, not a timing test).
    private func outcomes(_ batches: Recorder<BlockWriteQueue.Outcomes>, count: Int) async -> Int {
        for _ in 0..<500 where batches.values.reduce(0, { $0 + $1.count }) < count {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return batches.values.reduce(0) { $0 + $1.count }
    }

    @Test func blocksReachingTheBatchSizeAreWrittenTogetherWithoutAFlush() async throws {
        let setup = try setup(minimumBatchBytes: 3 * 16384)
        for block in setup.blocks { setup.queue.enqueue(block) }
        #expect(await outcomes(setup.batches, count: 3) == 3)
        #expect(setup.batches.values.map(\.count) == [3])
        let results = try setup.batches.values[0].map { try $0.result.get() }
        #expect(results == [.stored, .stored, .pieceVerified(piece: 0)])
        // The flush scheduled for the first block finds nothing left to do.
        #expect(setup.flushes.values.count == 1)
        setup.flushes.values.forEach { $0() }
        try await Task.sleep(for: .milliseconds(50))
        #expect(setup.batches.values.count == 1)
    }

    @Test func fewerBlocksWaitForTheirFlushAndAreThenWritten() async throws {
        let setup = try setup(minimumBatchBytes: 512 * 1024)
        setup.queue.enqueue(setup.blocks[0])
        setup.queue.enqueue(setup.blocks[1])
        // Below the batch size nothing is written until the one scheduled flush runs.
        try await Task.sleep(for: .milliseconds(100))
        #expect(setup.batches.values.isEmpty)
        #expect(setup.flushes.values.count == 1)
        setup.flushes.values[0]()
        #expect(await outcomes(setup.batches, count: 2) == 2)
        #expect(setup.batches.values.map(\.count) == [2])
        // A later block schedules a new flush of its own.
        setup.queue.enqueue(setup.blocks[2])
        #expect(setup.flushes.values.count == 2)
        setup.flushes.values[1]()
        #expect(await outcomes(setup.batches, count: 3) == 3)
        #expect(try setup.batches.values.last?.first?.result.get() == .pieceVerified(piece: 0))
    }
}
