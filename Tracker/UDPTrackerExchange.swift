import BTMetainfo
import NIOCore

/// BEP 15 retransmission schedule: wait 15·2^n seconds for attempt n, n growing to `maxExponent`, and give up
/// after `maxAttempts` attempts.
public struct UDPRetransmissionPolicy: Sendable, Hashable {
    /// The wait of the first attempt (BEP 15: 15 seconds).
    public var baseTimeout: TimeAmount
    /// The largest n in 15·2^n (BEP 15: 8, that is 3840 seconds).
    public var maxExponent: Int
    /// Attempts (first send plus retransmissions) before the exchange fails with `.timeout`.
    public var maxAttempts: Int

    /// Creates a policy; the defaults are BEP 15's.
    public init(baseTimeout: TimeAmount = .seconds(15), maxExponent: Int = 8, maxAttempts: Int = 9) {
        self.baseTimeout = baseTimeout
        self.maxExponent = max(0, min(maxExponent, 16))
        self.maxAttempts = max(1, maxAttempts)
    }

    /// How long attempt `n` (0-based) waits for an answer.
    public func timeout(attempt n: Int) -> TimeAmount {
        baseTimeout * (1 << min(max(0, n), maxExponent))
    }
}

/// A UDP tracker connection id and when it was received; usable for one minute (BEP 15).
public struct UDPTrackerConnection: Sendable, Hashable {
    /// How long a connection id stays usable.
    public static let lifetime = TimeAmount.seconds(60)
    /// The id the tracker gave.
    public var connectionID: UInt64
    /// When the client received it.
    public var obtainedAt: NIODeadline

    /// Creates a connection record.
    public init(connectionID: UInt64, obtainedAt: NIODeadline) {
        self.connectionID = connectionID
        self.obtainedAt = obtainedAt
    }

    /// Whether the id may still be used at `now`.
    public func isUsable(at now: NIODeadline) -> Bool { now < obtainedAt + Self.lifetime }
}

/// What a UDP exchange asks the tracker.
public enum UDPTrackerQuery: Sendable, Hashable {
    /// An announce, with BEP 41 URL data (the tracker URL's path and query).
    case announce(AnnounceRequest, urlData: [UInt8])
    /// A scrape of up to 74 info-hashes.
    case scrape([[UInt8]])
}

/// What a UDP exchange got back.
public enum UDPTrackerAnswer: Sendable, Hashable {
    /// The announce response.
    case announce(AnnounceResponse)
    /// One result per requested info-hash, in request order.
    case scrape([ScrapeResult])
}

/// One BEP 15 request/response exchange as a pure state machine: connect (unless a usable connection id is
/// known), then announce or scrape, with random transaction ids checked on every answer and retransmission
/// on the 15·2^n schedule. It never touches a socket or a clock: the driver feeds it datagrams and the
/// current time and carries out the returned ``Action``.
public struct UDPTrackerExchange: Sendable {
    /// What the driver must do next.
    public enum Action: Sendable, Hashable {
        /// Send this datagram, then call ``UDPTrackerExchange/timedOut(now:)`` if nothing useful arrives by
        /// `deadline`.
        case send([UInt8], deadline: NIODeadline)
        /// The datagram was not for this exchange (wrong transaction id, runt packet): keep waiting until the
        /// current deadline.
        case keepWaiting
        /// The exchange is over. `connection` is the connection id to cache for later exchanges (nil when the
        /// tracker's id should be forgotten).
        case finish(Result<UDPTrackerAnswer, TrackerError>, connection: UDPTrackerConnection?)
    }

    private enum State: Sendable {
        case idle
        case connecting(transactionID: UInt32)
        case requesting(UDPTrackerConnection, transactionID: UInt32)
        case finished
    }

    private let query: UDPTrackerQuery
    private let policy: UDPRetransmissionPolicy
    private var random: TrackerRandom
    private var state: State = .idle
    private var knownConnection: UDPTrackerConnection?
    private var attempt = 0
    private var lastPacket: [UInt8] = []

    /// Creates an exchange. Pass the cached `connection` of this tracker, if any.
    public init(
        query: UDPTrackerQuery, connection: UDPTrackerConnection?, policy: UDPRetransmissionPolicy = .init(),
        random: TrackerRandom = TrackerRandom()
    ) {
        self.query = query
        self.knownConnection = connection
        self.policy = policy
        self.random = random
    }

    /// Starts the exchange.
    public mutating func start(now: NIODeadline) -> Action {
        guard case .idle = state else { return .keepWaiting }
        if case .scrape(let hashes) = query,
            hashes.isEmpty || hashes.count > UDPTrackerPacket.maxScrapeHashes
                || hashes.contains(where: { $0.count != 20 })
        {
            state = .finished
            return .finish(
                .failure(TrackerError(.scrapeUnsupported, "a UDP scrape takes 1 to 74 info-hashes")),
                connection: knownConnection)
        }
        if let connection = knownConnection, connection.isUsable(at: now) {
            return request(connection, now: now)
        }
        return connect(now: now)
    }

    /// Feeds a datagram received from the tracker (`ipv6`: it came over IPv6).
    public mutating func receive(_ datagram: [UInt8], ipv6: Bool, now: NIODeadline) -> Action {
        let expected: UInt32
        switch state {
        case .connecting(let t), .requesting(_, let t): expected = t
        case .idle, .finished: return .keepWaiting
        }
        // Anything that does not carry our transaction id is not an answer to us: ignore it (BEP 15).
        guard datagram.count >= 8 else { return .keepWaiting }
        let transaction = datagram[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard transaction == expected else { return .keepWaiting }
        let packet: UDPTrackerPacket
        do {
            packet = try UDPTrackerPacket.decodeResponse(datagram, ipv6: ipv6)
        } catch {
            return finish(.failure(error))
        }
        switch (state, packet) {
        case (_, .error(_, let message)):
            return finish(.failure(TrackerError(.trackerFailure, message.isEmpty ? "tracker error" : message)))
        case (.connecting, .connectResponse(_, let connectionID)):
            // The attempt count carries over: the whole exchange is bounded by `maxAttempts` sends.
            knownConnection = UDPTrackerConnection(connectionID: connectionID, obtainedAt: now)
            return request(knownConnection!, now: now)
        case (.requesting, .announceResponse(_, let interval, let leechers, let seeders, let peers)):
            guard case .announce = query else { break }
            let response = AnnounceResponse(
                interval: Int(min(interval, UInt32(HTTPTrackerProtocol.maxInterval))), complete: Int(seeders),
                incomplete: Int(leechers), peers: Array(peers.prefix(HTTPTrackerProtocol.maxPeers)))
            return finish(.success(.announce(response)))
        case (.requesting, .scrapeResponse(_, let entries)):
            guard case .scrape(let hashes) = query else { break }
            guard entries.count >= hashes.count else {
                return finish(
                    .failure(
                        TrackerError(
                            .malformedPacket, "scrape response has \(entries.count) of \(hashes.count) entries")))
            }
            let results = zip(hashes, entries).map {
                ScrapeResult(
                    infoHash: $0.0, complete: Int($0.1.seeders), incomplete: Int($0.1.leechers),
                    downloaded: Int($0.1.completed))
            }
            return finish(.success(.scrape(results)))
        default:
            break
        }
        return finish(.failure(TrackerError(.malformedPacket, "unexpected action for the pending request")))
    }

    /// The deadline of the last ``Action/send(_:deadline:)`` passed without an answer.
    public mutating func timedOut(now: NIODeadline) -> Action {
        switch state {
        case .idle, .finished:
            return .keepWaiting
        case .connecting:
            attempt += 1
            guard attempt < policy.maxAttempts else { return finish(.failure(timeoutError())) }
            return .send(lastPacket, deadline: now + policy.timeout(attempt: attempt))
        case .requesting(let connection, _):
            attempt += 1
            guard attempt < policy.maxAttempts else { return finish(.failure(timeoutError())) }
            // An expired connection id must be renewed before retrying (BEP 15).
            guard connection.isUsable(at: now) else {
                knownConnection = nil
                return connect(now: now)
            }
            return .send(lastPacket, deadline: now + policy.timeout(attempt: attempt))
        }
    }

    private func timeoutError() -> TrackerError {
        TrackerError(.timeout, "no answer from the UDP tracker after \(policy.maxAttempts) attempt(s)")
    }

    private mutating func connect(now: NIODeadline) -> Action {
        let transaction = UInt32(truncatingIfNeeded: random.next())
        state = .connecting(transactionID: transaction)
        lastPacket = UDPTrackerPacket.connectRequest(transactionID: transaction).encoded()
        return .send(lastPacket, deadline: now + policy.timeout(attempt: attempt))
    }

    private mutating func request(_ connection: UDPTrackerConnection, now: NIODeadline) -> Action {
        let transaction = UInt32(truncatingIfNeeded: random.next())
        state = .requesting(connection, transactionID: transaction)
        switch query {
        case .announce(let request, let urlData):
            lastPacket = UDPTrackerPacket.announceRequest(
                connectionID: connection.connectionID, transactionID: transaction, request, urlData: urlData
            ).encoded()
        case .scrape(let hashes):
            lastPacket = UDPTrackerPacket.scrapeRequest(
                connectionID: connection.connectionID, transactionID: transaction, infoHashes: hashes
            ).encoded()
        }
        return .send(lastPacket, deadline: now + policy.timeout(attempt: attempt))
    }

    private mutating func finish(_ result: Result<UDPTrackerAnswer, TrackerError>) -> Action {
        state = .finished
        // After a tracker error the id may be what it objected to: forget it.
        if case .failure = result { knownConnection = nil }
        return .finish(result, connection: knownConnection)
    }
}
