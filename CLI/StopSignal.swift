import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// SIGINT and SIGTERM, turned into a flag the progress loop (and the initial hash check) polls. A second
/// signal at least a second after the first (a user pressing Ctrl-C again while the clean stop is under
/// way) exits at once with status 130, without writing resume data; signals within that second count as
/// one (`timeout` and process-group signals deliver the same signal twice).
final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var raisedAt: ContinuousClock.Instant?
    private var sources: [any DispatchSourceSignal] = []

    /// Installs handlers for SIGINT and SIGTERM.
    init() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.raise() }
            source.resume()
            sources.append(source)
        }
    }

    private func raise() {
        let now = ContinuousClock.now
        let first = lock.withLock { () -> ContinuousClock.Instant in
            if raisedAt == nil { raisedAt = now }
            return raisedAt!
        }
        if now - first >= .seconds(1) {
            FileHandle.standardError.write(Data("\nnbt: second interrupt, exiting without writing resume data\n".utf8))
            _exit(130)
        }
    }

    /// Whether a signal arrived.
    var isRaised: Bool { lock.withLock { raisedAt != nil } }
}
