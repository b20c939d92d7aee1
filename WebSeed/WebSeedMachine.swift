import NIOCore

/// One web seed's life, as a pure state machine: when it may be asked for bytes, how long it rests after a
/// failure, and when it is given up. Time is passed in; the machine owns no socket, clock or timer.
///
/// States (each a struct built from the one before it):
/// - ``Idle``: nothing in flight; a request may start.
/// - ``Requesting``: 1...``Configuration/maximumConnections`` requests in flight.
/// - ``BackingOff``: a request failed; none starts before ``BackingOff/until`` (the server's `Retry-After`
///   when it sent one, else ``Configuration/initialBackOff`` doubled per consecutive failure, at most
///   ``Configuration/maximumBackOff``). Requests already in flight finish.
/// - ``Failed``: given up for good, after ``Configuration/maximumFailures`` consecutive failures (a `503`
///   counts only as a rest, as libtorrent's `retry_web_seed` does), or at once when bytes it served failed a
///   piece's hash check.
public struct WebSeedMachine: Sendable {
    /// Tunables.
    public struct Configuration: Hashable, Sendable {
        /// Most requests in flight at once (each on its own HTTP/1.1 connection). libtorrent's
        /// `max_web_seed_connections` is 3.
        public var maximumConnections: Int
        /// Consecutive failures (not counting `503`/`429`) after which the web seed is given up.
        public var maximumFailures: Int
        /// Rest after the first failure; doubled after each further consecutive one.
        public var initialBackOff: TimeAmount
        /// Longest rest, `Retry-After` included.
        public var maximumBackOff: TimeAmount

        /// Creates a configuration: 4 connections, 5 failures, 2 s to 5 min of back-off.
        public init(
            maximumConnections: Int = 4, maximumFailures: Int = 5, initialBackOff: TimeAmount = .seconds(2),
            maximumBackOff: TimeAmount = .minutes(5)
        ) {
            self.maximumConnections = max(1, maximumConnections)
            self.maximumFailures = max(1, maximumFailures)
            self.initialBackOff = initialBackOff
            self.maximumBackOff = maximumBackOff
        }
    }

    /// Nothing in flight.
    public struct Idle: Hashable, Sendable {
        init() {}
        init(_ previous: Requesting) {}
        init(_ previous: BackingOff) {}
    }

    /// Requests in flight.
    public struct Requesting: Hashable, Sendable {
        /// How many.
        public fileprivate(set) var inFlight: Int
        init(_ previous: Idle) { inFlight = 1 }
        init(_ previous: BackingOff) { inFlight = previous.inFlight + 1 }
    }

    /// Resting after a failure.
    public struct BackingOff: Hashable, Sendable {
        /// No request starts before this.
        public let until: NIODeadline
        /// Requests still in flight (started before the failure).
        public fileprivate(set) var inFlight: Int
        /// The failure that caused the rest.
        public let cause: WebSeedError
        init(_ previous: Requesting, until: NIODeadline, cause: WebSeedError) {
            self.until = until
            self.inFlight = max(0, previous.inFlight - 1)
            self.cause = cause
        }
        init(_ previous: BackingOff, until: NIODeadline, cause: WebSeedError) {
            self.until = max(until, previous.until)
            self.inFlight = max(0, previous.inFlight - 1)
            self.cause = cause
        }
    }

    /// Given up.
    public struct Failed: Hashable, Sendable {
        /// Why.
        public let reason: WebSeedError
        init(reason: WebSeedError) { self.reason = reason }
    }

    /// Where the web seed stands.
    public enum State: Hashable, Sendable {
        /// Nothing in flight.
        case idle(Idle)
        /// Requests in flight.
        case requesting(Requesting)
        /// Resting after a failure.
        case backingOff(BackingOff)
        /// Given up.
        case failed(Failed)
    }

    /// What a failure led to.
    public enum FailureOutcome: Hashable, Sendable {
        /// Rest until the deadline, then try again.
        case backOff(until: NIODeadline)
        /// Give the web seed up (and return its pieces to the pool).
        case drop(WebSeedError)
    }

    /// The tunables in force.
    public let configuration: Configuration
    /// The current state.
    public private(set) var state: State = .idle(Idle())
    /// Consecutive failures that count towards ``Configuration/maximumFailures``.
    public private(set) var consecutiveFailures = 0
    /// Body bytes received from the web seed (payload of the ranges asked for).
    public private(set) var receivedBytes: Int64 = 0

    /// A machine in ``Idle``.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Requests in flight.
    public var inFlight: Int {
        switch state {
        case .idle, .failed: return 0
        case .requesting(let state): return state.inFlight
        case .backingOff(let state): return state.inFlight
        }
    }

    /// Whether the web seed has been given up.
    public var isFailed: Bool {
        if case .failed = state { return true }
        return false
    }

    /// Whether a request may start at `now`.
    public func canStartRequest(now: NIODeadline) -> Bool {
        switch state {
        case .idle: return true
        case .requesting(let state): return state.inFlight < configuration.maximumConnections
        case .backingOff(let state): return now >= state.until && state.inFlight < configuration.maximumConnections
        case .failed: return false
        }
    }

    /// A request starts (only when ``canStartRequest(now:)`` said so).
    public mutating func requestStarted(now: NIODeadline) {
        precondition(canStartRequest(now: now), "a request started while the web seed may not be asked")
        switch state {
        case .idle(let idle): state = .requesting(Requesting(idle))
        case .requesting(var requesting):
            requesting.inFlight += 1
            state = .requesting(requesting)
        case .backingOff(let backingOff): state = .requesting(Requesting(backingOff))
        case .failed: break
        }
    }

    /// Body bytes of a request in flight arrived.
    public mutating func received(_ bytes: Int) {
        receivedBytes += Int64(bytes)
    }

    /// A request completed with every byte asked for: the failure count is reset.
    public mutating func requestSucceeded() {
        consecutiveFailures = 0
        finishOne()
    }

    /// A request ended without its bytes (it was cancelled on our side: no blame, no rest).
    public mutating func requestCancelled() {
        finishOne()
    }

    /// A request failed with `error` at `now`: rest, or give the web seed up.
    public mutating func requestFailed(_ error: WebSeedError, now: NIODeadline) -> FailureOutcome {
        if case .failed(let failed) = state { return .drop(failed.reason) }
        let unavailable = error.code == .unavailable
        if !unavailable { consecutiveFailures += 1 }
        if consecutiveFailures >= configuration.maximumFailures || !Self.isRetryable(error) {
            state = .failed(Failed(reason: error))
            return .drop(error)
        }
        let rest: TimeAmount
        if unavailable, let seconds = error.retryAfterSeconds {
            rest = min(.seconds(Int64(seconds)), configuration.maximumBackOff)
        } else {
            let doublings = max(0, min(consecutiveFailures - 1, 30))
            let scaled = configuration.initialBackOff.nanoseconds.multipliedReportingOverflow(by: 1 << doublings)
            rest =
                scaled.overflow
                ? configuration.maximumBackOff : min(.nanoseconds(scaled.partialValue), configuration.maximumBackOff)
        }
        let until = now + rest
        switch state {
        case .requesting(let requesting): state = .backingOff(BackingOff(requesting, until: until, cause: error))
        case .backingOff(let backingOff): state = .backingOff(BackingOff(backingOff, until: until, cause: error))
        case .idle, .failed: break
        }
        return .backOff(until: until)
    }

    /// Bytes the web seed served made a piece fail its hash check: it is given up at once.
    public mutating func servedCorruptPiece(_ piece: Int) -> FailureOutcome {
        let error = WebSeedError(.corruptData, "piece \(piece) built from its bytes failed the hash check")
        state = .failed(Failed(reason: error))
        return .drop(error)
    }

    /// Gives the web seed up at once (it cannot be used: an invalid URL, say).
    public mutating func giveUp(_ error: WebSeedError) {
        state = .failed(Failed(reason: error))
    }

    /// Whether `error` may go away by itself (a refused address, an invalid URL or corrupt data does not).
    public static func isRetryable(_ error: WebSeedError) -> Bool {
        switch error.code {
        case .addressRefused, .invalidURL, .corruptData: return false
        default: return true
        }
    }

    private mutating func finishOne() {
        switch state {
        case .requesting(var requesting):
            requesting.inFlight -= 1
            state = requesting.inFlight == 0 ? .idle(Idle(requesting)) : .requesting(requesting)
        case .backingOff(var backingOff):
            backingOff.inFlight = max(0, backingOff.inFlight - 1)
            state = .backingOff(backingOff)
        case .idle, .failed:
            break
        }
    }
}
