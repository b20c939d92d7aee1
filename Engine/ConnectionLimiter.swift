import DequeModule

/// Global and per-torrent connection limits and the half-open (connecting) limit with its FIFO queue (the
/// seed's `queued` peer state); a pure bookkeeping component.
///
/// Every connection holds a slot from the moment it is queued until ``closed(_:)``: queued, connecting and
/// connected peers all count against ``Configuration/maximumConnections`` and
/// ``Configuration/maximumPerTorrent``, so a queue never promises more connections than the limits allow.
/// Only connecting peers count against ``Configuration/maximumHalfOpen``; when one finishes (either way),
/// the oldest queued peers are promoted and returned so the engine can start connecting them.
public struct ConnectionLimiter<Torrent: Hashable & Sendable, Peer: Hashable & Sendable>: Sendable {
    /// Limits.
    public struct Configuration: Hashable, Sendable {
        /// Most connections in total (queued, connecting and connected).
        public var maximumConnections = 200
        /// Most connections per torrent.
        public var maximumPerTorrent = 50
        /// Most outgoing connection attempts in flight at once.
        public var maximumHalfOpen = 16
        /// Most outgoing attempts waiting for a half-open slot.
        public var maximumQueued = 1_000

        /// Defaults as documented on each property.
        public init() {}
    }

    /// Where a connection stands (the seed's `queued`, `connecting` flags, then established).
    public enum ConnectionState: Hashable, Sendable {
        /// Waiting for a half-open slot.
        case queued
        /// The TCP (or uTP) connect is in flight.
        case connecting
        /// Established (outgoing connected, or incoming accepted).
        case connected
    }

    /// The answer to an outgoing connection wish.
    public enum OutgoingDecision: Hashable, Sendable {
        /// Start connecting now.
        case connect
        /// Wait: it will be returned by ``connected(_:)`` or ``closed(_:)`` when a half-open slot frees.
        case queued
        /// Do not connect.
        case refused(DisconnectReason)
    }

    /// The answer to an incoming connection.
    public enum IncomingDecision: Hashable, Sendable {
        /// Keep it.
        case accept
        /// Close it with this reason.
        case refuse(DisconnectReason)
    }

    /// The limits in force.
    public private(set) var configuration: Configuration
    private var states: [Peer: (torrent: Torrent, state: ConnectionState)] = [:]
    private var perTorrent: [Torrent: Int] = [:]
    private var queue: Deque<Peer> = []
    /// Number of connections being attempted.
    public private(set) var halfOpenCount = 0

    /// A limiter with no connections.
    public init(configuration: Configuration = Configuration()) {
        precondition(configuration.maximumConnections >= 0 && configuration.maximumPerTorrent >= 0)
        precondition(configuration.maximumHalfOpen >= 0 && configuration.maximumQueued >= 0)
        self.configuration = configuration
    }

    /// Per-torrent maxima that override ``Configuration/maximumPerTorrent``.
    public private(set) var torrentMaximums: [Torrent: Int] = [:]

    /// Sets the most slots `torrent` may hold (nil: ``Configuration/maximumPerTorrent``). Slots already held
    /// are kept; the caller closes connections beyond a lowered maximum.
    public mutating func setMaximum(_ maximum: Int?, for torrent: Torrent) {
        precondition(maximum.map { $0 >= 0 } ?? true, "a maximum cannot be negative")
        torrentMaximums[torrent] = maximum
    }

    /// Changes the most connections in total while connections exist. Slots already held are kept (a lowered
    /// maximum closes nothing); new connections are refused until the count is under it.
    public mutating func setMaximumConnections(_ maximum: Int) {
        precondition(maximum >= 0, "a maximum cannot be negative")
        configuration.maximumConnections = maximum
    }

    /// The most slots `torrent` may hold.
    public func maximum(for torrent: Torrent) -> Int {
        torrentMaximums[torrent] ?? configuration.maximumPerTorrent
    }

    /// Number of slots held (queued, connecting and connected).
    public var connectionCount: Int { states.count }
    /// Number of peers waiting for a half-open slot.
    public var queuedCount: Int { queue.count }
    /// Number of slots `torrent` holds.
    public func connectionCount(for torrent: Torrent) -> Int { perTorrent[torrent] ?? 0 }
    /// Where `peer`'s connection stands; nil when it holds no slot.
    public func state(of peer: Peer) -> ConnectionState? { states[peer]?.state }

    /// We would like to connect to `peer` for `torrent`.
    public mutating func connectOutgoing(_ peer: Peer, torrent: Torrent) -> OutgoingDecision {
        if let reason = refusal(peer, torrent: torrent) { return .refused(reason) }
        if halfOpenCount < configuration.maximumHalfOpen {
            hold(peer, torrent: torrent, state: .connecting)
            halfOpenCount += 1
            return .connect
        }
        guard queue.count < configuration.maximumQueued else { return .refused(.queueFull) }
        hold(peer, torrent: torrent, state: .queued)
        queue.append(peer)
        return .queued
    }

    /// A peer connected to us and its handshake named `torrent`.
    public mutating func acceptIncoming(_ peer: Peer, torrent: Torrent) -> IncomingDecision {
        if let reason = refusal(peer, torrent: torrent) { return .refuse(reason) }
        hold(peer, torrent: torrent, state: .connected)
        return .accept
    }

    /// An outgoing connect succeeded. Returns queued peers promoted to connecting: connect to them now.
    public mutating func connected(_ peer: Peer) -> [Peer] {
        guard let entry = states[peer], entry.state == .connecting else { return [] }
        states[peer]!.state = .connected
        halfOpenCount -= 1
        return promote()
    }

    /// A connection (in any state) ended, failed or was abandoned. Returns queued peers promoted to
    /// connecting: connect to them now.
    public mutating func closed(_ peer: Peer) -> [Peer] {
        guard let entry = states.removeValue(forKey: peer) else { return [] }
        perTorrent[entry.torrent]! -= 1
        if perTorrent[entry.torrent] == 0 { perTorrent[entry.torrent] = nil }
        switch entry.state {
        case .queued: queue.removeAll { $0 == peer }
        case .connecting: halfOpenCount -= 1
        case .connected: break
        }
        return promote()
    }

    private func refusal(_ peer: Peer, torrent: Torrent) -> DisconnectReason? {
        if states[peer] != nil { return .preexisting }
        if states.count >= configuration.maximumConnections { return .tooMany }
        if connectionCount(for: torrent) >= maximum(for: torrent) { return .tooMany }
        return nil
    }

    private mutating func hold(_ peer: Peer, torrent: Torrent, state: ConnectionState) {
        states[peer] = (torrent, state)
        perTorrent[torrent, default: 0] += 1
    }

    private mutating func promote() -> [Peer] {
        var started: [Peer] = []
        while halfOpenCount < configuration.maximumHalfOpen, let peer = queue.popFirst() {
            states[peer]!.state = .connecting
            halfOpenCount += 1
            started.append(peer)
        }
        return started
    }
}
