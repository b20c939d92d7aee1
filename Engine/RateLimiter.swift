import DequeModule

/// Which way the bytes flow.
public enum TransferDirection: Hashable, Sendable, CaseIterable {
    /// Bytes we send.
    case upload
    /// Bytes we receive.
    case download
}

/// A bandwidth limit: unlimited, or a rate with a bounded burst.
public struct RateLimit: Hashable, Sendable {
    /// Bytes per second; nil means unlimited.
    public let bytesPerSecond: Int?
    /// Most tokens the bucket holds (the largest burst). The bucket holds at least two quanta, so that a
    /// torrent waiting its turn for the global bucket does not lose the tokens it accumulates meanwhile.
    public let burst: Int?

    /// No limit.
    public static let unlimited = RateLimit(bytesPerSecond: nil, burst: nil)

    /// A limit of `bytesPerSecond` (> 0), bursting at most `burst` bytes (default: a quarter second's
    /// worth).
    public static func bytesPerSecond(_ rate: Int, burst: Int? = nil) -> RateLimit {
        precondition(rate > 0, "a rate limit must be positive; use .unlimited for none")
        return RateLimit(bytesPerSecond: rate, burst: burst ?? rate / 4)
    }
}

/// Global and per-torrent bandwidth limits, upload and download, as hierarchical token buckets; a pure
/// component driven by an injected clock.
///
/// A peer asks for bytes with ``request(_:peer:torrent:direction:now:)``; a grant draws the same number of
/// tokens from its torrent's bucket and from the global bucket, so both limits hold at once. What cannot
/// be granted at once waits; ``advance(to:)`` (call it at ``nextWakeup(_:)``) hands out refilled tokens.
///
/// Fairness: waiting torrents are served round robin, and within a torrent its waiting peers round robin,
/// one ``Configuration/quantum`` (16 KiB) per turn, so no peer starves however much another asks for.
/// A torrent whose own bucket is empty is skipped without holding up the others. Bursts are bounded by
/// each bucket's capacity (``RateLimit/burst``).
public struct RateLimiter<Torrent: Hashable & Sendable, Peer: Hashable & Sendable>: Sendable {
    /// Bytes granted to a peer.
    public struct Grant: Hashable, Sendable {
        /// The peer that may now send (or read) the bytes.
        public var peer: Peer
        /// The direction.
        public var direction: TransferDirection
        /// How many bytes.
        public var bytes: Int
    }

    /// Tunables.
    public struct Configuration: Hashable, Sendable {
        /// Bytes granted per turn of the round robin.
        public var quantum = 16 * 1024
        /// Most bytes one peer may have waiting; more is clamped (the engine should not ask for more than
        /// it can buffer).
        public var maximumPendingPerPeer = 4 * 1024 * 1024

        /// Defaults as documented on each property.
        public init() {}
    }

    private struct TorrentLane: Sendable {
        var bucket: TokenBucket
        var waiting: Deque<Peer> = []
    }

    private struct Lane: Sendable {
        var global: TokenBucket
        var torrents: [Torrent: TorrentLane] = [:]
        var rotation: Deque<Torrent> = []
        var pending: [Peer: (torrent: Torrent, bytes: Int)] = [:]
    }

    /// The configuration in force.
    public let configuration: Configuration
    private var lanes: [TransferDirection: Lane]
    private var torrentLimits: [TransferDirection: [Torrent: RateLimit]] = [:]

    /// A limiter with the given global limits (unlimited by default).
    public init(
        upload: RateLimit = .unlimited, download: RateLimit = .unlimited, now: EngineInstant,
        configuration: Configuration = Configuration()
    ) {
        precondition(configuration.quantum > 0 && configuration.maximumPendingPerPeer >= configuration.quantum)
        self.configuration = configuration
        lanes = [
            .upload: Lane(global: TokenBucket(upload, quantum: configuration.quantum, now: now)),
            .download: Lane(global: TokenBucket(download, quantum: configuration.quantum, now: now)),
        ]
    }

    /// Changes the global limit of one direction.
    public mutating func setGlobalLimit(_ limit: RateLimit, direction: TransferDirection, now: EngineInstant) {
        lanes[direction]!.global = TokenBucket(limit, quantum: configuration.quantum, now: now)
    }

    /// The global limit of one direction, in bytes per second (nil: unlimited).
    public func globalRate(_ direction: TransferDirection) -> Int? { lanes[direction]!.global.rate.map(Int.init) }

    /// The limit of `torrent` in one direction, in bytes per second (nil: unlimited or never set).
    public func torrentRate(_ torrent: Torrent, direction: TransferDirection) -> Int? {
        torrentLimits[direction]?[torrent]?.bytesPerSecond
    }

    /// Changes the limit of one torrent in one direction (unlimited until set).
    public mutating func setTorrentLimit(
        _ limit: RateLimit, for torrent: Torrent, direction: TransferDirection, now: EngineInstant
    ) {
        torrentLimits[direction, default: [:]][torrent] = limit
        lanes[direction]!.torrents[torrent]?.bucket = TokenBucket(limit, quantum: configuration.quantum, now: now)
    }

    /// Asks for `bytes` for `peer` of `torrent`. Returns the grants made now: possibly to this peer, and to
    /// peers that were waiting for the tokens refilled since the last call.
    public mutating func request(
        _ bytes: Int, peer: Peer, torrent: Torrent, direction: TransferDirection, now: EngineInstant
    ) -> [Grant] {
        guard bytes > 0 else { return advance(to: now) }
        var lane = lanes[direction]!
        if lane.torrents[torrent] == nil {
            let limit = torrentLimits[direction]?[torrent] ?? .unlimited
            lane.torrents[torrent] = TorrentLane(bucket: TokenBucket(limit, quantum: configuration.quantum, now: now))
        }
        if lane.global.rate == nil && lane.torrents[torrent]!.bucket.rate == nil && lane.pending[peer] == nil {
            return [Grant(peer: peer, direction: direction, bytes: bytes)]
        }
        if let waiting = lane.pending[peer] {
            lane.pending[peer]!.bytes = min(waiting.bytes + bytes, configuration.maximumPendingPerPeer)
        } else {
            lane.pending[peer] = (torrent, min(bytes, configuration.maximumPendingPerPeer))
            if lane.torrents[torrent]!.waiting.isEmpty { lane.rotation.append(torrent) }
            lane.torrents[torrent]!.waiting.append(peer)
        }
        lanes[direction] = lane
        return distribute(direction, now: now)
    }

    /// Refills the buckets up to `now` and hands tokens to waiting peers.
    public mutating func advance(to now: EngineInstant) -> [Grant] {
        TransferDirection.allCases.flatMap { distribute($0, now: now) }
    }

    /// Bytes `peer` is still waiting for in `direction`.
    public func pendingBytes(of peer: Peer, direction: TransferDirection) -> Int {
        lanes[direction]!.pending[peer]?.bytes ?? 0
    }

    /// When the next grant in `direction` can be made, or nil when nobody waits.
    public func nextWakeup(_ direction: TransferDirection) -> EngineInstant? {
        let lane = lanes[direction]!
        var earliest: EngineInstant?
        for torrent in lane.rotation {
            guard let torrentLane = lane.torrents[torrent], let peer = torrentLane.waiting.first,
                let pending = lane.pending[peer]
            else { continue }
            let chunk = min(pending.bytes, configuration.quantum)
            let ready = max(
                torrentLane.bucket.refilledAt + torrentLane.bucket.wait(for: chunk),
                lane.global.refilledAt + lane.global.wait(for: chunk))
            earliest = min(earliest ?? ready, ready)
        }
        return earliest
    }

    /// Forgets a disconnected peer's waiting bytes.
    public mutating func removePeer(_ peer: Peer) {
        for direction in TransferDirection.allCases {
            guard let waiting = lanes[direction]!.pending.removeValue(forKey: peer) else { continue }
            lanes[direction]!.torrents[waiting.torrent]?.waiting.removeAll { $0 == peer }
            if lanes[direction]!.torrents[waiting.torrent]?.waiting.isEmpty == true {
                lanes[direction]!.rotation.removeAll { $0 == waiting.torrent }
            }
        }
    }

    /// Forgets a removed torrent, its limits and its waiting peers.
    public mutating func removeTorrent(_ torrent: Torrent) {
        for direction in TransferDirection.allCases {
            let peers = lanes[direction]!.torrents[torrent]?.waiting ?? []
            for peer in peers { removePeer(peer) }
            lanes[direction]!.torrents[torrent] = nil
            torrentLimits[direction]?[torrent] = nil
        }
    }

    private mutating func distribute(_ direction: TransferDirection, now: EngineInstant) -> [Grant] {
        var lane = lanes[direction]!
        lane.global.refill(now)
        for torrent in lane.rotation { lane.torrents[torrent]!.bucket.refill(now) }
        var granted: [Peer: Int] = [:]
        var order: [Peer] = []
        var idleTurns = 0
        while let torrent = lane.rotation.first, idleTurns < lane.rotation.count {
            var torrentLane = lane.torrents[torrent]!
            let peer = torrentLane.waiting.first!
            let chunk = min(lane.pending[peer]!.bytes, configuration.quantum)
            guard lane.global.has(chunk) else { break }  // keep this torrent first for the next refill
            lane.rotation.removeFirst()
            guard torrentLane.bucket.has(chunk) else {
                lane.rotation.append(torrent)
                idleTurns += 1
                continue
            }
            idleTurns = 0
            lane.global.take(chunk)
            torrentLane.bucket.take(chunk)
            torrentLane.waiting.removeFirst()
            lane.pending[peer]!.bytes -= chunk
            if granted[peer] == nil { order.append(peer) }
            granted[peer, default: 0] += chunk
            if lane.pending[peer]!.bytes > 0 {
                torrentLane.waiting.append(peer)
            } else {
                lane.pending[peer] = nil
            }
            if !torrentLane.waiting.isEmpty { lane.rotation.append(torrent) }
            lane.torrents[torrent] = torrentLane
        }
        lanes[direction] = lane
        return order.map { Grant(peer: $0, direction: direction, bytes: granted[$0]!) }
    }
}

private struct TokenBucket: Sendable {
    static let scale: Int64 = 1_000_000_000
    var rate: Int64?
    var capacity: Int64
    var tokens: Int64  // in 1/scale bytes
    var refilledAt: EngineInstant

    init(_ limit: RateLimit, quantum: Int, now: EngineInstant) {
        rate = limit.bytesPerSecond.map(Int64.init)
        capacity = Int64(max(limit.burst ?? 0, 2 * quantum))
        tokens = capacity * Self.scale
        refilledAt = now
    }

    mutating func refill(_ now: EngineInstant) {
        guard let rate, now > refilledAt else { return }
        let elapsed = (now - refilledAt).nanosecondsSaturating
        refilledAt = now
        let missing = capacity * Self.scale - tokens
        tokens = elapsed >= (missing + rate - 1) / rate ? capacity * Self.scale : tokens + rate * elapsed
    }

    func has(_ bytes: Int) -> Bool { rate == nil || tokens >= Int64(bytes) * Self.scale }

    mutating func take(_ bytes: Int) { if rate != nil { tokens -= Int64(bytes) * Self.scale } }

    /// Time from the last refill until `bytes` tokens are available.
    func wait(for bytes: Int) -> Duration {
        guard let rate else { return .zero }
        let missing = Int64(bytes) * Self.scale - tokens
        return missing <= 0 ? .zero : .nanoseconds((missing + rate - 1) / rate)
    }
}

extension Duration {
    /// Whole nanoseconds, saturating at `Int64.max` (negative durations give 0).
    var nanosecondsSaturating: Int64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 || seconds > 0 else { return 0 }
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        let (sum, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflow2 ? .max : max(sum, 0)
    }
}
