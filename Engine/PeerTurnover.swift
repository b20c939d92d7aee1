/// Peer turnover, as libtorrent does it (`peer_turnover`, `peer_turnover_cutoff`, `peer_turnover_interval`):
/// when a torrent's connection slots are full, the least useful connections make room, so connections that
/// hold a slot and do nothing (an attacker's, or a peer with nothing to trade) cannot lock working peers out.
///
/// Two moments use it:
/// - a new peer arrives while the slots are full: one idle connection is dropped to admit it, else, as
///   libtorrent's `attach_peer` does, the connection of lowest BEP 40 priority (``PeerPriority``) when the
///   newcomer's is higher (``victimForNewcomer(among:newcomerPriority:now:)``). Without this second rule a
///   swarm whose peers all fill their slots in its first second (the simulator's 100 peers at 50 slots) lets
///   no newcomer in while everyone trades;
/// - every ``Configuration/interval`` while at least ``Configuration/cutoff`` of the slots are taken, a
///   ``Configuration/fraction`` of the connections, the least useful idle ones, are dropped
///   (``periodicVictims(among:maximum:now:)``), so new candidates get a turn.
///
/// The periodic turnover and a newcomer's first choice take only idle connections: connected for at least
/// ``Configuration/grace`` and no payload exchanged either way for ``Configuration/idleTime``. Among idle ones
/// the least useful go first: neither side interested in the other (nothing can ever flow), then the one idle
/// longest. Only a newcomer of higher priority displaces a trading connection, and only one connected for at
/// least ``Configuration/priorityGrace``.
///
/// Pure and generic over the peer key, like the other policies; time is given.
public struct PeerTurnover<Peer: Hashable & Sendable>: Sendable {
    /// The knobs.
    public struct Configuration: Hashable, Sendable {
        /// How long a new connection is safe from turnover (it needs time to handshake and start trading).
        public var grace: Duration
        /// How long without payload either way makes a connection idle.
        public var idleTime: Duration
        /// How often the periodic turnover runs.
        public var interval: Duration
        /// Fraction of the slots that must be taken for the periodic turnover to run (libtorrent: 0.9).
        public var cutoff: Double
        /// Fraction of the connections the periodic turnover drops (libtorrent: 0.04; at least one).
        public var fraction: Double
        /// How long a connection is safe from a newcomer of higher BEP 40 priority (libtorrent: no time at
        /// all; a little lets a connection finish its handshake and first requests).
        public var priorityGrace: Duration

        /// libtorrent's values for the periodic turnover (every 5 minutes, 4 % when 90 % full), and a
        /// peer idle for a minute after a grace of a minute.
        public init(
            grace: Duration = .seconds(60), idleTime: Duration = .seconds(60), interval: Duration = .seconds(300),
            cutoff: Double = 0.9, fraction: Double = 0.04, priorityGrace: Duration = .seconds(2)
        ) {
            self.grace = grace
            self.idleTime = idleTime
            self.interval = interval
            self.cutoff = cutoff
            self.fraction = fraction
            self.priorityGrace = priorityGrace
        }
    }

    /// What turnover needs to know of a connection.
    public struct PeerSnapshot: Sendable {
        /// The connection.
        public var peer: Peer
        /// When it was made.
        public var connectedAt: EngineInstant
        /// When a block last went either way (nil: never).
        public var lastPayloadAt: EngineInstant?
        /// Whether we are interested in the peer.
        public var weAreInterested: Bool
        /// Whether the peer is interested in us.
        public var peerInterested: Bool
        /// The connection's BEP 40 priority (``PeerPriority``).
        public var priority: UInt32

        /// A snapshot.
        public init(
            peer: Peer, connectedAt: EngineInstant, lastPayloadAt: EngineInstant?, weAreInterested: Bool,
            peerInterested: Bool, priority: UInt32 = 0
        ) {
            self.peer = peer
            self.connectedAt = connectedAt
            self.lastPayloadAt = lastPayloadAt
            self.weAreInterested = weAreInterested
            self.peerInterested = peerInterested
            self.priority = priority
        }
    }

    /// The knobs in use.
    public let configuration: Configuration

    /// A turnover policy.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The connection to drop so a new peer can have its slot: the least useful idle one, else the one of
    /// lowest priority past ``Configuration/priorityGrace`` when `newcomerPriority` is higher (ties go to the
    /// newest connection, the one that has traded least). Nil: the newcomer is refused.
    public func victimForNewcomer(among peers: [PeerSnapshot], newcomerPriority: UInt32? = nil, now: EngineInstant)
        -> Peer?
    {
        if let idle = ranked(peers, now: now).first { return idle }
        guard let newcomerPriority else { return nil }
        let settled = peers.filter { now - $0.connectedAt >= configuration.priorityGrace }
        guard
            let lowest = settled.min(by: { a, b in
                a.priority != b.priority ? a.priority < b.priority : a.connectedAt > b.connectedAt
            }), lowest.priority < newcomerPriority
        else { return nil }
        return lowest.peer
    }

    /// The connections the periodic turnover drops now: none below the cutoff, else the least useful idle
    /// ones, ``Configuration/fraction`` of `maximum` (at least one).
    public func periodicVictims(among peers: [PeerSnapshot], maximum: Int, now: EngineInstant) -> [Peer] {
        guard maximum > 0, Double(peers.count) >= configuration.cutoff * Double(maximum) else { return [] }
        let count = max(1, Int((configuration.fraction * Double(maximum)).rounded(.down)))
        return Array(ranked(peers, now: now).prefix(count))
    }

    /// Idle connections past their grace, least useful first.
    func ranked(_ peers: [PeerSnapshot], now: EngineInstant) -> [Peer] {
        let idle = peers.filter { snapshot in
            guard now - snapshot.connectedAt >= configuration.grace else { return false }
            guard let last = snapshot.lastPayloadAt else { return true }
            return now - last >= configuration.idleTime
        }
        return idle.sorted { a, b in
            let aHopeless = !a.weAreInterested && !a.peerInterested
            let bHopeless = !b.weAreInterested && !b.peerInterested
            if aHopeless != bHopeless { return aHopeless }
            let aSince = a.lastPayloadAt ?? a.connectedAt
            let bSince = b.lastPayloadAt ?? b.connectedAt
            return aSince < bSince
        }.map(\.peer)
    }
}
