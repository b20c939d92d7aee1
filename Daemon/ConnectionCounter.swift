import Foundation

/// Counts open connections against a maximum, from any thread.
final class ConnectionCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var open = 0
    private let maximum: Int

    init(maximum: Int) { self.maximum = maximum }

    func enter() -> Bool {
        lock.withLock {
            guard open < maximum else { return false }
            open += 1
            return true
        }
    }

    func leave() { lock.withLock { open -= 1 } }
}
