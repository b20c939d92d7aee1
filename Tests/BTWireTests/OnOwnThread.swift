import Foundation

/// Runs blocking work (socket sessions, process waits) on a thread of its own and awaits the result.
///
/// Swift's cooperative pool has one thread per core (two on CI). A test that blocks one of them for tens of
/// seconds starves every other suite running in the same process: their timers and continuations wait, and
/// deadlines elsewhere pass before their work runs. Issues must be recorded by the caller, on its own task:
/// swift-testing attributes an issue to a test through task-local state that a plain thread does not have.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}
