/// Decides which peers we upload to; a pure component driven by an injected clock.
///
/// Call ``rechoke(now:peers:seeding:using:)`` every ``Configuration/rechokeInterval`` (10 s, BEP 3 and
/// libtorrent) and whenever a peer that was unchoked leaves; apply the returned decisions.
///
/// - Leeching: the ``Configuration/regularSlots`` (4) interested peers that upload to us fastest get the
///   regular slots (tit-for-tat).
/// - Seeding: libtorrent's *round robin* seed choker. A peer keeps its regular slot for
///   ``Configuration/seedingRotation`` (30 s); freed slots go to the interested peers that have waited
///   longest since they were last choked (never-unchoked peers wait since they connected), ties to those
///   we upload to fastest. Every interested peer gets a turn, so no downloader starves.
/// - Optimistic unchoke: ``Configuration/optimisticSlots`` (1) more interested peers, chosen at random,
///   newly connected ones (within ``Configuration/newPeerWindow``) ``Configuration/newPeerWeight`` (3)
///   times as likely, kept for ``Configuration/optimisticInterval`` (30 s) then rotated.
/// - Anti-snubbing: a peer we are interested in that unchoked us but has sent no block for
///   ``Configuration/snubTimeout`` (60 s) is snubbed. It cannot win a regular slot; each regular slot left
///   empty because of snubbing becomes one more optimistic slot.
public struct Choker<Peer: Hashable & Sendable>: Sendable {
    /// Slots and timings.
    public struct Configuration: Hashable, Sendable {
        /// Regular (tit-for-tat) upload slots.
        public var regularSlots = 4
        /// Optimistic unchoke slots.
        public var optimisticSlots = 1
        /// Time between rechokes.
        public var rechokeInterval: Duration = .seconds(10)
        /// How long an optimistic unchoke lasts before it rotates.
        public var optimisticInterval: Duration = .seconds(30)
        /// How long a seeding regular slot is kept before it may rotate to a waiting peer.
        public var seedingRotation: Duration = .seconds(30)
        /// No block for this long while the peer unchokes us and we are interested: snubbed.
        public var snubTimeout: Duration = .seconds(60)
        /// Peers connected for less than this count as new for the optimistic draw.
        public var newPeerWindow: Duration = .seconds(60)
        /// Weight of a new peer in the optimistic draw (others weigh 1).
        public var newPeerWeight = 3

        /// Defaults as documented on each property.
        public init() {}
    }

    /// What the choker needs to know about one connected peer at a rechoke.
    public struct PeerSnapshot: Hashable, Sendable {
        /// The peer.
        public var peer: Peer
        /// The peer is interested in our pieces.
        public var isInterested: Bool
        /// We are interested in the peer's pieces.
        public var weAreInterested: Bool
        /// Bytes per second the peer sends us.
        public var downloadRate: Int
        /// Bytes per second we send the peer.
        public var uploadRate: Int
        /// When the connection was established.
        public var connectedAt: EngineInstant
        /// When the peer last unchoked us; nil while it chokes us.
        public var unchokedUsAt: EngineInstant?
        /// When the peer last sent us a block; nil if never.
        public var lastBlockAt: EngineInstant?

        /// A snapshot.
        public init(
            peer: Peer, isInterested: Bool, weAreInterested: Bool = false, downloadRate: Int = 0,
            uploadRate: Int = 0, connectedAt: EngineInstant, unchokedUsAt: EngineInstant? = nil,
            lastBlockAt: EngineInstant? = nil
        ) {
            self.peer = peer
            self.isInterested = isInterested
            self.weAreInterested = weAreInterested
            self.downloadRate = downloadRate
            self.uploadRate = uploadRate
            self.connectedAt = connectedAt
            self.unchokedUsAt = unchokedUsAt
            self.lastBlockAt = lastBlockAt
        }
    }

    /// A message to send.
    public enum Decision: Hashable, Sendable {
        /// Send `choke` to the peer.
        case choke(Peer)
        /// Send `unchoke` to the peer.
        case unchoke(Peer)
    }

    /// The outcome of a rechoke.
    public struct Result: Hashable, Sendable {
        /// Messages to send, in the order of the snapshots given.
        public var decisions: [Decision]
        /// Every peer unchoked after this rechoke.
        public var unchoked: Set<Peer>
        /// The optimistically unchoked peers among them (the seed's `optimistic_unchoke` flag).
        public var optimistic: Set<Peer>
        /// Peers that are snubbing us (the seed's `snubbed` flag).
        public var snubbed: Set<Peer>
        /// When to rechoke next.
        public var nextRechoke: EngineInstant
    }

    /// The configuration in force.
    public let configuration: Configuration
    private var unchokedSince: [Peer: EngineInstant] = [:]
    private var optimisticSince: [Peer: EngineInstant] = [:]
    private var chokedSince: [Peer: EngineInstant] = [:]

    /// A choker with every peer choked.
    public init(configuration: Configuration = Configuration()) {
        precondition(configuration.regularSlots >= 0 && configuration.optimisticSlots >= 0)
        precondition(configuration.newPeerWeight >= 1)
        self.configuration = configuration
    }

    /// Peers currently unchoked.
    public var unchoked: Set<Peer> { Set(unchokedSince.keys) }

    /// Recomputes who is unchoked. `peers` lists every connected peer; peers missing from it are forgotten.
    public mutating func rechoke(
        now: EngineInstant, peers: [PeerSnapshot], seeding: Bool, using random: inout some RandomNumberGenerator
    ) -> Result {
        let present = Set(peers.map(\.peer))
        unchokedSince = unchokedSince.filter { present.contains($0.key) }
        optimisticSince = optimisticSince.filter { present.contains($0.key) }
        chokedSince = chokedSince.filter { present.contains($0.key) }

        let snubbed = Set(peers.filter { isSnubbing($0, now: now) }.map(\.peer))
        let interested = peers.filter(\.isInterested)

        // Regular slots.
        var regular: [Peer] = []
        let contenders = interested.filter { !snubbed.contains($0.peer) }
        if seeding {
            let keepers = contenders.filter {
                guard let since = unchokedSince[$0.peer], optimisticSince[$0.peer] == nil else { return false }
                return now - since < configuration.seedingRotation
            }.sorted { $0.uploadRate > $1.uploadRate }
            let keptPeers = Set(keepers.map(\.peer))
            let waiting = contenders.filter { !keptPeers.contains($0.peer) }.map {
                (
                    snapshot: $0,
                    waitingSince: unchokedSince[$0.peer] != nil ? now : chokedSince[$0.peer] ?? $0.connectedAt,
                    tie: random.next() as UInt64
                )
            }.sorted {
                ($0.waitingSince, -$0.snapshot.uploadRate, $0.tie) < ($1.waitingSince, -$1.snapshot.uploadRate, $1.tie)
            }
            regular = (keepers + waiting.map(\.snapshot)).prefix(configuration.regularSlots).map(\.peer)
        } else {
            regular = contenders.map { (snapshot: $0, tie: random.next() as UInt64) }
                .sorted { (-$0.snapshot.downloadRate, $0.tie) < (-$1.snapshot.downloadRate, $1.tie) }
                .prefix(configuration.regularSlots).map(\.snapshot.peer)
        }
        let regularSet = Set(regular)

        // Optimistic slots: keep the unexpired ones, fill the rest by weighted draw.
        let snubbedInterested = interested.filter { snubbed.contains($0.peer) }.count
        let target =
            configuration.optimisticSlots + min(snubbedInterested, configuration.regularSlots - regular.count)
        let interestedSet = Set(interested.map(\.peer))
        var expired: Set<Peer> = []
        for (peer, since) in optimisticSince {
            if !interestedSet.contains(peer) || regularSet.contains(peer) {
                optimisticSince[peer] = nil
            } else if now - since >= configuration.optimisticInterval {
                optimisticSince[peer] = nil
                expired.insert(peer)
            }
        }
        while optimisticSince.count > target, let drop = optimisticSince.min(by: { $0.value < $1.value }) {
            optimisticSince[drop.key] = nil
        }
        var pool = interested.filter {
            !regularSet.contains($0.peer) && optimisticSince[$0.peer] == nil && !expired.contains($0.peer)
        }
        var fallback = interested.filter { expired.contains($0.peer) }
        while optimisticSince.count < target {
            if pool.isEmpty {
                pool = fallback
                fallback = []
            }
            guard !pool.isEmpty else { break }
            let weights = pool.map {
                now - $0.connectedAt < configuration.newPeerWindow ? configuration.newPeerWeight : 1
            }
            var draw = Int(random.next(upperBound: UInt64(weights.reduce(0, +))))
            var chosen = 0
            while draw >= weights[chosen] {
                draw -= weights[chosen]
                chosen += 1
            }
            optimisticSince[pool[chosen].peer] = now
            pool.remove(at: chosen)
        }

        // Decisions against the previous state.
        let nowUnchoked = regularSet.union(optimisticSince.keys)
        var decisions: [Decision] = []
        for snapshot in peers {
            let peer = snapshot.peer
            let was = unchokedSince[peer] != nil
            let isUnchoked = nowUnchoked.contains(peer)
            if was && !isUnchoked {
                decisions.append(.choke(peer))
                unchokedSince[peer] = nil
                chokedSince[peer] = now
            } else if !was && isUnchoked {
                decisions.append(.unchoke(peer))
                unchokedSince[peer] = now
            }
        }
        return Result(
            decisions: decisions, unchoked: nowUnchoked, optimistic: Set(optimisticSince.keys), snubbed: snubbed,
            nextRechoke: now + configuration.rechokeInterval)
    }

    private func isSnubbing(_ snapshot: PeerSnapshot, now: EngineInstant) -> Bool {
        guard snapshot.weAreInterested, let unchokedUs = snapshot.unchokedUsAt else { return false }
        let lastActivity = max(unchokedUs, snapshot.lastBlockAt ?? unchokedUs)
        return now - lastActivity >= configuration.snubTimeout
    }
}
