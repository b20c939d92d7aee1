import BTMetainfo
import Foundation
import NIOCore

extension PieceStore {
    /// The piece store's read front end: the engine queues the blocks peers requested, each with a `Tag` of
    /// its own (the connection it is for), one drain task reads everything waiting with one
    /// ``PieceStore/readBlocks(_:allocator:)`` call (one worker hop for the lot, each block read with `pread`
    /// straight into a buffer from the given allocator, the buffer that goes to the socket) and hands all the
    /// results back in one call, in the order the requests were queued.
    ///
    /// Why (measured in the engine, where this queue lived before): a task per requested block cost a task,
    /// an actor hop, a worker hop and a hop back to the loop for every 16 KiB; in a 1 GiB upload to
    /// libtorrent about a third of the seed's CPU time was context switches. Peers pipeline their requests,
    /// so batches form by themselves while a read is in progress: no waiting is added (a
    /// `BlockBatchSchedule` with a minimum of 0 bytes).
    ///
    /// Memory: requests wait as addresses; only the batch being read holds buffers, and they go to the
    /// caller with the results. ``pendingBytes`` counts the bytes requested and not yet delivered, and
    /// ``enqueue(_:for:)`` refuses a request that would pass `maximumPendingBytes` with
    /// ``StorageError/Code/backlogFull`` (the engine's per-peer upload cap keeps it far below).
    ///
    /// The unchecked `Sendable` is sound because every access to the mutable state holds `lock`.
    public final class BlockReader<Tag: Sendable>: @unchecked Sendable {
        /// One requested block and whom it is for.
        public typealias Item = (request: BlockRequest, tag: Tag)
        /// Results of one batch, in the order the requests were queued.
        public typealias Outcomes = [(request: BlockRequest, tag: Tag, result: Result<ByteBuffer, StorageError>)]

        /// The store read from.
        public let store: PieceStore
        /// Where the blocks' buffers come from.
        public let allocator: ByteBufferAllocator
        private let lock = NSLock()
        private var schedule: BlockBatchSchedule<Item>  // guarded by lock
        private var flushWaiters: [CheckedContinuation<Void, Never>] = []  // guarded by lock
        private let delivered: @Sendable (Outcomes) -> Void

        /// A reader from `store` into buffers from `allocator`, holding at most `maximumPendingBytes`
        /// requested bytes (default 64 MiB); `delivered` receives each batch's results on a task's thread
        /// (an event loop must hop to itself).
        public init(
            store: PieceStore, allocator: ByteBufferAllocator, maximumPendingBytes: Int = 64 * 1024 * 1024,
            delivered: @escaping @Sendable (Outcomes) -> Void
        ) {
            self.store = store
            self.allocator = allocator
            self.schedule = BlockBatchSchedule(minimumBatchBytes: 0, maximumPendingBytes: maximumPendingBytes)
            self.delivered = delivered
        }

        /// Bytes requested and not yet delivered (queued, or in the batch being read).
        public var pendingBytes: Int { lock.withLock { schedule.pendingBytes } }

        /// Queues a request for `tag`; starts the drain (through the store's pool, which a simulation can hold:
        /// `WorkerPool.holdDrains()`) when none runs. Throws
        /// ``StorageError/Code/backlogFull`` past the limit and ``StorageError/Code/cancelled`` after
        /// ``shutdown()``; a refused request gets no result.
        public func enqueue(_ request: BlockRequest, for tag: Tag) throws(StorageError) {
            let decided = lock.withLock {
                Result { () throws(StorageError) in
                    try schedule.enqueue((request, tag), bytes: max(0, request.length), operation: .read)
                }
            }
            if try decided.get() == .startDrain { store.pool.launchDrain { await self.drain() } }
        }

        /// Returns once every request queued so far (and meanwhile) has its result delivered.
        public func flush() async {
            await finish(closing: false)
        }

        /// Refuses requests from now on and returns once every queued one has its result delivered.
        public func shutdown() async {
            await finish(closing: true)
        }

        private func finish(closing: Bool) async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let action = lock.withLock { () -> BlockBatchSchedule<Item>.FlushAction in
                    let action = schedule.requestFlush(closing: closing)
                    if action != .done { flushWaiters.append(continuation) }
                    return action
                }
                switch action {
                case .done: continuation.resume()
                case .wait(let start): if start { store.pool.launchDrain { await self.drain() } }
                }
            }
        }

        private func drain() async {
            var batch = lock.withLock { schedule.startBatch() }
            while true {
                let results = await store.readBlocks(batch.map(\.request), allocator: allocator)
                var outcomes: Outcomes = []
                outcomes.reserveCapacity(batch.count)
                for (item, result) in zip(batch, results) { outcomes.append((item.request, item.tag, result)) }
                delivered(outcomes)
                let (after, waiters) = lock.withLock {
                    () -> (BlockBatchSchedule<Item>.AfterBatch, [CheckedContinuation<Void, Never>]) in
                    let after = schedule.finishBatch()
                    guard case .idle(true, _) = after else { return (after, []) }
                    defer { flushWaiters = [] }
                    return (after, flushWaiters)
                }
                switch after {
                case .next(let next):
                    batch = next
                case .idle:
                    // A reader's schedule never asks for a timed flush (its minimum batch is 0 bytes).
                    for waiter in waiters { waiter.resume() }
                    return
                }
            }
        }
    }
}
