import BTMetainfo
import BTStorage
import BTWire
import Foundation

/// Blocks that peers requested from a torrent, on their way out of its ``PieceStore``: the event loop
/// appends requests, one drain task reads everything waiting with one ``PieceStore/readBlocks(_:)`` call
/// (one worker-pool hop for the lot) and hands all the results back in one call.
///
/// A task per requested block (the first design) cost a task, an actor hop, a worker hop and a hop back to
/// the loop for every 16 KiB: in a 1 GiB upload to libtorrent about a third of our seed's CPU time was
/// context switches. Peers pipeline their requests, so batches form by themselves while a read is in
/// progress; no waiting is added.
///
/// Memory: every queued request is already counted in its connection's queued upload bytes (the upload
/// back-pressure cap in `ClientCore`), so the queue stays bounded.
///
/// The unchecked `Sendable` is sound because every access to the mutable state holds `lock`.
final class BlockReadQueue: @unchecked Sendable {
    /// One requested block and the connection it is for.
    struct Item: @unchecked Sendable {
        let request: BlockRequest
        let connection: PeerConnection
    }

    /// Results of a batch, in the order the requests were queued.
    typealias Outcomes = [(item: Item, result: Result<[UInt8], StorageError>)]

    private let lock = NSLock()
    private var items: [Item] = []  // guarded by lock
    private var draining = false  // guarded by lock
    private let store: PieceStore
    private let delivered: @Sendable (Outcomes) -> Void

    /// A queue reading from `store`; `delivered` receives each batch's results (on a task's thread: it must
    /// hop to the loop itself).
    init(store: PieceStore, delivered: @escaping @Sendable (Outcomes) -> Void) {
        self.store = store
        self.delivered = delivered
    }

    /// Queues a request; starts the drain task when none runs.
    func enqueue(_ item: Item) {
        let start = lock.withLock { () -> Bool in
            items.append(item)
            guard !draining else { return false }
            draining = true
            return true
        }
        if start { store.pool.launchDrain { await self.drain() } }
    }

    private func drain() async {
        while true {
            let batch = lock.withLock { () -> [Item] in
                let batch = items
                items = []
                if batch.isEmpty { draining = false }
                return batch
            }
            if batch.isEmpty { return }
            let results = await store.readBlocks(
                batch.map {
                    BlockRequest(piece: $0.request.piece, offset: $0.request.offset, length: $0.request.length)
                })
            delivered(Array(zip(batch, results)).map { (item: $0.0, result: $0.1) })
        }
    }
}
