import BTTracker

/// Runs `body`, giving up after `seconds` (the body is cancelled): nil means it did not finish in time.
/// A cap so a regression shows as a failed expectation instead of a hung test, not a speed check.
func bounded<T: Sendable>(seconds: Int, _ body: @escaping @Sendable () async -> T) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await body() }
        group.addTask {
            try? await Task.sleep(for: .seconds(seconds))
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

/// The code of the ``TrackerError`` that `body` throws, nil when it succeeds or throws something else.
func trackerErrorCode(_ body: () async throws -> Void) async -> TrackerError.Code? {
    do {
        try await body()
        return nil
    } catch let error as TrackerError {
        return error.code
    } catch {
        return nil
    }
}
