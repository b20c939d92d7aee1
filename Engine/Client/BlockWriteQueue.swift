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
/// Memory: the engine counts every queued block in the torrent's pending write bytes until its outcome is
/// back, and stops requesting while that backlog is full (download back-pressure, `ClientCore`), so the
/// queue stays bounded.
///
/// The unchecked `Sendable` is sound because every access to the mutable state holds `lock`.
final class BlockWriteQueue: @unchecked Sendable {
    /// One block to write.
    struct Item: Sendable {
        let block: PieceBlock
        let bytes: [UInt8]
        let peer: PeerTag
    }

    /// Outcomes of a batch, in the order the blocks were queued.
    typealias Outcomes = [(block: PieceBlock, result: Result<BlockWriteResult, any Error>)]

    /// Drain tasks at most (see the type's documentation for why one).
    static let maximumDrainers = 1

    private let lock = NSLock()
    private var items: [Item] = []  // guarded by lock
    private var drainers = 0  // guarded by lock
    private let store: PieceStore
    private let written: @Sendable (Outcomes) -> Void

    /// A queue writing into `store`; `written` receives each batch's outcomes (on a task's thread: it must
    /// hop to the loop itself).
    init(store: PieceStore, written: @escaping @Sendable (Outcomes) -> Void) {
        self.store = store
        self.written = written
    }

    /// Queues a block; starts a drainer when fewer than ``maximumDrainers`` run.
    func enqueue(_ item: Item) {
        let start = lock.withLock { () -> Bool in
            items.append(item)
            guard drainers < Self.maximumDrainers else { return false }
            drainers += 1
            return true
        }
        if start { Task { await self.drain() } }
    }

    private func drain() async {
        while true {
            let batch = lock.withLock { () -> [Item] in
                let batch = items
                items = []
                if batch.isEmpty { drainers -= 1 }
                return batch
            }
            if batch.isEmpty { return }
            let results = await store.writeBlocks(
                batch.map { BlockWrite(piece: $0.block.piece, offset: $0.block.offset, bytes: $0.bytes, from: $0.peer) }
            )
            var outcomes: Outcomes = []
            outcomes.reserveCapacity(batch.count)
            for (item, result) in zip(batch, results) {
                outcomes.append((item.block, result.mapError { $0 as any Error }))
            }
            written(outcomes)
        }
    }
}
