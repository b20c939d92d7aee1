/// Peer turnover, as libtorrent does it (`peer_turnover`, `peer_turnover_cutoff`, `peer_turnover_interval`):
/// when a torrent's connection slots are full, the least useful connections make room, so connections that
/// hold a slot and do nothing (an attacker's, or a peer with nothing to trade) cannot lock working peers out.
///
/// Two moments use it:
/// - a new peer arrives while the slots are full: one idle connection is dropped to admit it
///   (``victimForNewcomer(among:now:)``);
/// - every ``Configuration/interval`` while at least ``Configuration/cutoff`` of the slots are taken, a
///   ``Configuration/fraction`` of the connections, the least useful idle ones, are dropped
///   (``periodicVictims(among:maximum:now:)``), so new candidates get a turn.
///
/// Only idle connections are ever chosen: connected for at least ``Configuration/grace`` and no payload
/// exchanged either way for ``Configuration/idleTime``. A peer that trades is never dropped to make room.
/// Among idle ones the least useful go first: neither side interested in the other (nothing can ever
/// flow), then the one idle longest.
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

        /// libtorrent's values for the periodic turnover (every 5 minutes, 4 % when 90 % full), and a
        /// peer idle for a minute after a grace of a minute.
        public init(
            grace: Duration = .seconds(60), idleTime: Duration = .seconds(60), interval: Duration = .seconds(300),
            cutoff: Double = 0.9, fraction: Double = 0.04
        ) {
            self.grace = grace
            self.idleTime = idleTime
            self.interval = interval
            self.cutoff = cutoff
            self.fraction = fraction
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

        /// A snapshot.
        public init(
            peer: Peer, connectedAt: EngineInstant, lastPayloadAt: EngineInstant?, weAreInterested: Bool,
            peerInterested: Bool
        ) {
            self.peer = peer
            self.connectedAt = connectedAt
            self.lastPayloadAt = lastPayloadAt
            self.weAreInterested = weAreInterested
            self.peerInterested = peerInterested
        }
    }

    /// The knobs in use.
    public let configuration: Configuration

    /// A turnover policy.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The connection to drop so a new peer can have its slot, or nil when every connection is useful
    /// or still in its grace time (the newcomer is then refused).
    public func victimForNewcomer(among peers: [PeerSnapshot], now: EngineInstant) -> Peer? {
        ranked(peers, now: now).first
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
