import Dispatch
import Foundation

/// A fixed set of threads, one per core by default, that runs blocking disk I/O and hashing off the
/// caller's thread (Swift's cooperative pool must not block on `pread`).
public final class WorkerPool: Sendable {
    private let queues: [DispatchQueue]
    private let next = Locked(0)

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
