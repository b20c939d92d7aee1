import BTMetainfo
import Dispatch
import Foundation
import NIOCore

extension PieceStore {
    /// The piece store's write front end: received blocks go in as the buffers the network read them into,
    /// are gathered into batches, and each batch is written with `PieceStore.writeBlocks(_: [ReceivedBlock])`
    /// in one hop to a worker (adjacent blocks of a piece in one `pwritev` straight from the buffers, v1 pieces
    /// hashed from the same bytes while their blocks arrive in order); the outcomes of a batch come back in
    /// one call, in the order the blocks were queued.
    ///
    /// Why it batches as it does (measured in the engine, where this queue lived before): one task and one
    /// hop back to the event loop per block cost several thread wake-ups per 16 KiB, a fifth of the client's
    /// CPU time in a fast download; a task per block within a batch still cost one worker hop and
    /// continuation per block. A single drainer keeps a piece's in-order blocks in one stream of batches
    /// (two concurrent batches splitting a piece would stall its running hash and force a read back).
    /// Batches are kept large: a drain starts once ``Configuration/minimumBatchBytes`` wait, or when the
    /// flush scheduled for the first waiting block comes due (``Configuration/flushDelayNanoseconds`` later),
    /// so a trickle still reaches the disk promptly. Draining as soon as one block was queued made batches
    /// of about eight blocks in a loopback download, each batch's hops costing about seven context switches:
    /// a sixth of the client's CPU time. The decisions are `BlockBatchSchedule`'s.
    ///
    /// Memory: every queued block is held (its buffer, not a copy) until its outcome is delivered;
    /// ``pendingBytes`` says how many bytes that is, and ``enqueue(_:)`` refuses a block that would pass
    /// ``Configuration/maximumPendingBytes`` with ``StorageError/Code/backlogFull``. The engine also stops
    /// requesting while its own count of pending write bytes is full, so in practice that limit is a backstop.
    ///
    /// Nothing queued is lost: ``flush()`` writes whatever waits, however little, and returns once every
    /// outcome was delivered; ``shutdown()`` does the same and refuses blocks from then on
    /// (``StorageError/Code/cancelled``).
    ///
    /// The unchecked `Sendable` is sound because every access to the mutable state holds `lock`.
    public final class BlockWriter: @unchecked Sendable {
        /// Outcomes of one batch, in the order its blocks were queued.
        public typealias Outcomes = [(block: BlockRequest, result: Result<BlockWriteResult, StorageError>)]

        /// How batches form.
        public struct Configuration: Sendable {
            /// Bytes that start a write at once (default 512 KiB: 32 blocks of 16 KiB).
            public var minimumBatchBytes: Int
            /// How long the first block waiting below ``minimumBatchBytes`` may wait before it is written
            /// anyway (default 3 ms).
            public var flushDelayNanoseconds: Int64
            /// Bytes held at most, queued plus being written (default 64 MiB).
            public var maximumPendingBytes: Int

            /// A configuration; the defaults are the engine's measured ones.
            public init(
                minimumBatchBytes: Int = 512 * 1024, flushDelayNanoseconds: Int64 = 3_000_000,
                maximumPendingBytes: Int = 64 * 1024 * 1024
            ) {
                self.minimumBatchBytes = minimumBatchBytes
                self.flushDelayNanoseconds = flushDelayNanoseconds
                self.maximumPendingBytes = maximumPendingBytes
            }
        }

        /// The store written to.
        public let store: PieceStore
        /// How batches form.
        public let configuration: Configuration
        private let lock = NSLock()
        private var schedule: BlockBatchSchedule<ReceivedBlock>  // guarded by lock
        private var flushWaiters: [CheckedContinuation<Void, Never>] = []  // guarded by lock
        private let scheduleFlush: @Sendable (@escaping @Sendable () -> Void) -> Void
        private let written: @Sendable (Outcomes) -> Void

        /// A writer into `store`. `written` receives each batch's outcomes on a task's thread (an event loop
        /// must hop to itself). `scheduleFlush` must run its argument ``Configuration/flushDelayNanoseconds``
        /// later, on any thread (the engine schedules it on its loop); nil uses a Dispatch timer.
        public init(
            store: PieceStore, configuration: Configuration = Configuration(),
            scheduleFlush: (@Sendable (@escaping @Sendable () -> Void) -> Void)? = nil,
            written: @escaping @Sendable (Outcomes) -> Void
        ) {
            self.store = store
            self.configuration = configuration
            self.schedule = BlockBatchSchedule(
                minimumBatchBytes: configuration.minimumBatchBytes,
                maximumPendingBytes: configuration.maximumPendingBytes)
            let delay = configuration.flushDelayNanoseconds
            self.scheduleFlush =
                scheduleFlush ?? { body in
                    DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(delay)), execute: body)
                }
            self.written = written
        }

        /// Bytes held: queued, or in the batch being written (their outcomes not yet delivered).
        public var pendingBytes: Int { lock.withLock { schedule.pendingBytes } }

        /// Queues `block`; starts a write when none runs and a full batch waits, else makes sure a flush is
        /// due. Throws ``StorageError/Code/backlogFull`` when the block would pass
        /// ``Configuration/maximumPendingBytes`` and ``StorageError/Code/cancelled`` after ``shutdown()``; a
        /// refused block is not written and gets no outcome.
        public func enqueue(_ block: ReceivedBlock) throws(StorageError) {
            let decided = lock.withLock {
                Result { () throws(StorageError) in
                    try schedule.enqueue(block, bytes: block.bytes.readableBytes, operation: .write)
                }
            }
            act(try decided.get())
        }

        /// Writes everything queued now, however little, and returns once every outcome was delivered (also
        /// those of blocks queued meanwhile).
        public func flush() async {
            await finish(closing: false)
        }

        /// Refuses blocks from now on, writes everything queued and returns once every outcome was delivered.
        public func shutdown() async {
            await finish(closing: true)
        }

        private func finish(closing: Bool) async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let action = lock.withLock { () -> BlockBatchSchedule<ReceivedBlock>.FlushAction in
                    let action = schedule.requestFlush(closing: closing)
                    if action != .done { flushWaiters.append(continuation) }
                    return action
                }
                switch action {
                case .done: continuation.resume()
                case .wait(let start): if start { act(.startDrain) }
                }
            }
        }

        private func act(_ action: BlockBatchSchedule<ReceivedBlock>.Action) {
            switch action {
            case .none: break
            case .startDrain: store.pool.launchDrain { await self.drain() }
            case .scheduleFlush: scheduleFlush { [self] in act(lock.withLock { schedule.flushDue() }) }
            }
        }

        private func drain() async {
            var batch = lock.withLock { schedule.startBatch() }
            while true {
                let results = await store.writeBlocks(batch)
                var outcomes: Outcomes = []
                outcomes.reserveCapacity(batch.count)
                for (block, result) in zip(batch, results) { outcomes.append((block.request, result)) }
                written(outcomes)
                let (after, waiters) = lock.withLock {
                    () -> (BlockBatchSchedule<ReceivedBlock>.AfterBatch, [CheckedContinuation<Void, Never>]) in
                    let after = schedule.finishBatch()
                    guard case .idle(true, _) = after else { return (after, []) }
                    defer { flushWaiters = [] }
                    return (after, flushWaiters)
                }
                switch after {
                case .next(let next):
                    batch = next
                case .idle(_, let action):
                    for waiter in waiters { waiter.resume() }
                    act(action)
                    return
                }
            }
        }
    }
}
