/// When the piece store's front ends (``PieceStore/BlockWriter``, ``PieceStore/BlockReader``) take a batch:
/// the pure decision part, with no lock, task, clock or I/O, so how batches form is tested on its own.
///
/// The rules are the engine's, measured there (see ``PieceStore/BlockWriter`` for the figures):
/// - One drainer at a time. Two batches in flight would split a piece's in-order blocks between them, stall
///   its running hash and force the piece to be read back from disk.
/// - A drain starts only once ``minimumBatchBytes`` wait, or when the flush scheduled for the first block
///   waiting below that comes due, so a slow trickle still reaches the disk promptly. A reader uses a
///   minimum of 0: any request starts a drain when none runs, and requests that arrive during a read form
///   the next batch.
/// - A drainer that finishes a batch takes the next at once when a full batch (or, while a flush is
///   requested, anything) waits; otherwise it stops and a flush is scheduled for what is left.
/// - At most ``maximumPendingBytes`` are held (waiting plus being written); more is refused with
///   ``StorageError/Code/backlogFull`` rather than held without bound.
///
/// `Item` is whatever the front end queues; its size is given with it.
package struct BlockBatchSchedule<Item> {
    /// Bytes that start a drain at once.
    package let minimumBatchBytes: Int
    /// Bytes held at most, waiting plus in the batch being written.
    package let maximumPendingBytes: Int
    /// Items waiting for the next batch, in the order they came.
    package private(set) var waiting: [Item] = []
    /// Bytes of ``waiting``.
    package private(set) var waitingBytes = 0
    /// Bytes of the batch being written or read.
    package private(set) var batchBytes = 0
    /// A drainer runs.
    package private(set) var draining = false
    /// A flush is scheduled and has not come due.
    package private(set) var flushScheduled = false
    /// Someone waits for everything to be done (``requestFlush(closing:)``): batches are taken whatever their size.
    package private(set) var flushRequested = false
    /// No more items are accepted.
    package private(set) var closed = false

    /// Bytes held: waiting plus being written.
    package var pendingBytes: Int { waitingBytes + batchBytes }

    /// A schedule starting drains at `minimumBatchBytes` and holding at most `maximumPendingBytes`.
    package init(minimumBatchBytes: Int, maximumPendingBytes: Int) {
        self.minimumBatchBytes = max(0, minimumBatchBytes)
        self.maximumPendingBytes = max(1, maximumPendingBytes)
    }

    /// What the front end does after a step.
    package enum Action: Equatable, Sendable {
        /// Nothing.
        case none
        /// Start a drainer, which takes its first batch with ``startBatch()``.
        case startDrain
        /// Schedule a flush (``flushDue()`` after the delay).
        case scheduleFlush
    }

    /// Queues `item` of `bytes` bytes. Throws ``StorageError/Code/cancelled`` once closed and
    /// ``StorageError/Code/backlogFull`` when it would hold more than ``maximumPendingBytes``.
    package mutating func enqueue(
        _ item: Item, bytes: Int, operation: StorageError.Operation
    ) throws(StorageError) -> Action {
        if closed {
            throw StorageError(.cancelled, operation, path: nil, reason: "the piece store's front end is shut down")
        }
        if pendingBytes + bytes > maximumPendingBytes {
            throw StorageError(
                .backlogFull, operation, path: nil,
                reason: "\(pendingBytes) bytes pending, \(bytes) more would pass the limit of \(maximumPendingBytes)")
        }
        waiting.append(item)
        waitingBytes += bytes
        return decide()
    }

    /// The scheduled flush came due: starts a drain for whatever waits, however little.
    package mutating func flushDue() -> Action {
        flushScheduled = false
        guard !draining, !waiting.isEmpty else { return .none }
        draining = true
        return .startDrain
    }

    /// What a flush request needs: to wait for a running drain, to start one, or nothing (all is done).
    package enum FlushAction: Equatable, Sendable {
        /// Nothing waits or is being written: the flush is complete now.
        case done
        /// A drain runs (or was started): the flush completes when ``finishBatch()`` says `idle`.
        case wait(startDrain: Bool)
    }

    /// Asks for everything queued to be written now, whatever its size; `closing` refuses items from now on.
    package mutating func requestFlush(closing: Bool) -> FlushAction {
        if closing { closed = true }
        if !draining && waiting.isEmpty { return .done }
        flushRequested = true
        if draining { return .wait(startDrain: false) }
        draining = true
        return .wait(startDrain: true)
    }

    /// The drainer takes its first batch: everything waiting.
    package mutating func startBatch() -> [Item] {
        precondition(draining, "a batch is taken only by the drainer")
        return take()
    }

    /// What a drainer does after a batch.
    package enum AfterBatch {
        /// Write or read this batch next.
        case next([Item])
        /// Stop; `flushesComplete`: waiting flushes are complete; `action`: a flush to schedule, or none.
        case idle(flushesComplete: Bool, action: Action)
    }

    /// The batch taken last is done: the drainer takes the next or stops.
    package mutating func finishBatch() -> AfterBatch {
        batchBytes = 0
        if !waiting.isEmpty && (waitingBytes >= minimumBatchBytes || flushRequested) {
            return .next(take())
        }
        draining = false
        let complete = flushRequested && waiting.isEmpty
        if complete { flushRequested = false }
        return .idle(flushesComplete: complete, action: decide())
    }

    /// Whether to start a drainer now, or else to schedule a flush for what waits.
    private mutating func decide() -> Action {
        if !draining && !waiting.isEmpty && (waitingBytes >= minimumBatchBytes || flushRequested) {
            draining = true
            return .startDrain
        }
        if !waiting.isEmpty && !flushScheduled && !draining {
            flushScheduled = true
            return .scheduleFlush
        }
        return .none
    }

    /// Everything waiting becomes the batch being written.
    private mutating func take() -> [Item] {
        let batch = waiting
        waiting = []
        batchBytes = waitingBytes
        waitingBytes = 0
        return batch
    }
}
