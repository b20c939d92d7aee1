import Dispatch
import Foundation

/// A fixed set of threads, one per core by default, that runs blocking disk I/O and hashing off the
/// caller's thread (Swift's cooperative pool must not block on `pread`).
public final class WorkerPool: Sendable {
    private let queues: [DispatchQueue]
    private let next = Locked(0)
    /// Drains waiting for ``takeHeldDrain()``, or nil: drains start at once (see ``holdDrains()``).
    private let held = Locked<[@Sendable () async -> Void]?>(nil)

    /// From now on ``launchDrain(_:)`` queues instead of starting: a simulation on a virtual clock then runs
    /// each drain (a batch of reads or writes and its hop back to the event loop) itself, one at a time, in the
    /// order they were launched, so a run does not depend on thread timing.
    package func holdDrains() { held.withLock { if $0 == nil { $0 = [] } } }

    /// Starts `drain` (a batch of storage work and the hand-back of its results) as a task, or queues it
    /// after ``holdDrains()``.
    package func launchDrain(_ drain: @escaping @Sendable () async -> Void) {
        let queued = held.withLock { queue -> Bool in
            guard queue != nil else { return false }
            queue!.append(drain)
            return true
        }
        if !queued { Task { await drain() } }
    }

    /// The oldest held drain, removed from the queue (nil when none waits or drains are not held).
    package func takeHeldDrain() -> (@Sendable () async -> Void)? {
        held.withLock { queue in queue?.isEmpty == false ? queue!.removeFirst() : nil }
    }

    /// Number of worker threads.
    public var width: Int { queues.count }

    /// A pool of `width` threads (default: the number of active cores).
    public init(width: Int = ProcessInfo.processInfo.activeProcessorCount) {
        let count = max(1, width)
        queues = (0..<count).map { DispatchQueue(label: "nbt.storage.worker.\($0)", qos: .userInitiated) }
    }

    /// A pool shared by every store that is not given its own.
    public static let shared = WorkerPool()

    /// Runs `body` on one of the pool's threads and returns its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let queue = next.withLock { index -> DispatchQueue in
            index = (index + 1) % queues.count
            return queues[index]
        }
        return try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Runs `body(worker)` once on every thread of the pool, in parallel, and waits for all of them.
    package func runOnAll(_ body: @escaping @Sendable (Int) throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, queue) in queues.enumerated() {
                group.addTask {
                    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                        queue.async { continuation.resume(with: Result { try body(index) }) }
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
