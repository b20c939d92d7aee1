import BTMetainfo
import BTStorage
import Foundation

/// Received blocks on their way to a torrent's ``PieceStore``: the event loop appends, and one drain task
/// takes what has accumulated and hands it to ``PieceStore/writeBlocks(_:)`` in one call, then hands all
/// the outcomes of the batch back in one call.
///
/// One task and one hop back to the loop per block (the first design) cost several thread wake-ups per
/// 16 KiB, which was a fifth of the client's CPU time in a fast download; a task per block within a batch
/// (the second) still cost one worker hop and continuation per block. The batch API makes one worker hop
/// per batch, writes adjacent blocks with one gathered write, and hashes v1 pieces from the received bytes
/// while their blocks arrive in order. A single drainer keeps a piece's in-order blocks in one stream of
/// batches: two concurrent batches splitting a piece's blocks would stall its running hash and force the
/// piece to be read back from disk.
///
/// Batches are kept large: a drain starts only once ``minimumBatchBytes`` wait, or when the flush scheduled
/// for the first waiting block comes due (``flushDelayNanoseconds`` later), so a slow trickle still reaches the disk
/// promptly. Draining as soon as one block was queued (the third design) made batches of about eight
/// blocks in a loopback download, and each batch's hops (loop to task to worker and back) cost about seven
/// context switches: one per 16 KiB block, a sixth of the client's CPU time in a profile.
///
/// Memory: the engine counts every queued block in the torrent's pending write bytes until its outcome is
/// back, and stops requesting while that backlog is full (download back-pressure, `ClientCore`), so the
/// queue stays bounded.
///
/// The unchecked `Sendable` is sound because every access to the mutable state holds `lock`.
final class BlockWriteQueue: @unchecked Sendable {
    /// One block to write.
    struct Item: Sendable {
        let block: BlockRequest
        let bytes: [UInt8]
        let peer: PeerTag
    }

    /// Outcomes of a batch, in the order the blocks were queued.
    typealias Outcomes = [(block: BlockRequest, result: Result<BlockWriteResult, any Error>)]

    /// Drain tasks at most (see the type's documentation for why one).
    static let maximumDrainers = 1
    /// Bytes that start a drain at once (32 blocks of 16 KiB).
    static let minimumBatchBytes = 512 * 1024
    /// How long the first block waiting below ``minimumBatchBytes`` may wait before it is written anyway.
    static let flushDelayNanoseconds: Int64 = 3_000_000

    private let lock = NSLock()
    private var items: [Item] = []  // guarded by lock
    private var queuedBytes = 0  // guarded by lock
    private var drainers = 0  // guarded by lock
    private var flushScheduled = false  // guarded by lock
    private let store: PieceStore
    private let minimumBatchBytes: Int
    private let scheduleFlush: @Sendable (@escaping @Sendable () -> Void) -> Void
    private let written: @Sendable (Outcomes) -> Void

    /// A queue writing into `store`; `written` receives each batch's outcomes (on a task's thread: it must
    /// hop to the loop itself). `scheduleFlush` must run its argument ``flushDelayNanoseconds`` later (on any thread);
    /// `minimumBatchBytes` is for tests.
    init(
        store: PieceStore, minimumBatchBytes: Int = BlockWriteQueue.minimumBatchBytes,
        scheduleFlush: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void,
        written: @escaping @Sendable (Outcomes) -> Void
    ) {
        self.store = store
        self.minimumBatchBytes = minimumBatchBytes
        self.scheduleFlush = scheduleFlush
        self.written = written
    }

    /// Queues a block; starts a drainer when none runs and a full batch waits, else makes sure a flush is
    /// due.
    func enqueue(_ item: Item) {
        let (start, flush) = lock.withLock { () -> (Bool, Bool) in
            items.append(item)
            queuedBytes += item.bytes.count
            return decide()
        }
        act(start: start, flush: flush)
    }

    /// Starts a drainer for whatever waits, however little (the scheduled flush).
    private func flush() {
        let start = lock.withLock { () -> Bool in
            flushScheduled = false
            guard drainers < Self.maximumDrainers, !items.isEmpty else { return false }
            drainers += 1
            return true
        }
        act(start: start, flush: false)
    }

    /// Under `lock`: whether to start a drainer now, or else to schedule a flush for the blocks waiting.
    private func decide() -> (start: Bool, flush: Bool) {
        if drainers < Self.maximumDrainers && queuedBytes >= minimumBatchBytes {
            drainers += 1
            return (true, false)
        }
        if !items.isEmpty && !flushScheduled {
            flushScheduled = true
            return (false, true)
        }
        return (false, false)
    }

    private func act(start: Bool, flush: Bool) {
        if start { Task { await self.drain() } }
        if flush { scheduleFlush { [self] in self.flush() } }
    }

    private func drain() async {
        var batch = lock.withLock { take() }
        while !batch.isEmpty {
            let results = await store.writeBlocks(
                batch.map { BlockWrite(piece: $0.block.piece, offset: $0.block.offset, bytes: $0.bytes, from: $0.peer) }
            )
            var outcomes: Outcomes = []
            outcomes.reserveCapacity(batch.count)
            for (item, result) in zip(batch, results) {
                outcomes.append((item.block, result.mapError { $0 as any Error }))
            }
            written(outcomes)
            let (next, flush) = lock.withLock { () -> ([Item], Bool) in
                if queuedBytes >= minimumBatchBytes { return (take(), false) }
                drainers -= 1
                return ([], decide().flush)
            }
            act(start: false, flush: flush)
            batch = next
        }
    }

    /// Under `lock`: everything waiting.
    private func take() -> [Item] {
        let batch = items
        items = []
        queuedBytes = 0
        return batch
    }
}
