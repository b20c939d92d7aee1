import BTEngine
import NIOCore

/// One simulated peer: what it starts with, how it behaves, its link, and when it is in the swarm.
public struct PeerSpec: Sendable, Hashable {
    /// What the peer starts with.
    public enum Role: String, Sendable, Hashable, Codable {
        /// Has the whole torrent from the start.
        case seed
        /// Has nothing and downloads.
        case leecher
    }

    /// Seed or leecher.
    public var role: Role
    /// Honest, free-rider or liar.
    public var behaviour: PeerBehaviour
    /// Its access link.
    public var profile: NodeProfile
    /// When it joins, after the start of the run.
    public var joinsAt: TimeAmount
    /// When it leaves (shuts its client down), after the start; nil: stays to the end.
    public var leavesAt: TimeAmount?

    /// A peer; by default an honest leecher with the default link, present from the start to the end.
    public init(
        role: Role = .leecher, behaviour: PeerBehaviour = .honest, profile: NodeProfile = NodeProfile(),
        joinsAt: TimeAmount = .zero, leavesAt: TimeAmount? = nil
    ) {
        self.role = role
        self.behaviour = behaviour
        self.profile = profile
        self.joinsAt = joinsAt
        self.leavesAt = leavesAt
    }
}

/// A swarm to simulate: one torrent of synthetic content, its peers, and how the run is driven.
public struct SwarmConfiguration: Sendable {
    /// Seed of everything random in the run: content, peer ids, the engines' choices, loss, who dials whom.
    public var seed: UInt64
    /// Payload size in bytes.
    public var contentSize: Int
    /// Piece length (a multiple of 16 KiB).
    public var pieceLength: Int
    /// The peers, in the order of their numbers (their addresses are `10.a.b.c` from the number).
    public var peers: [PeerSpec]
    /// How many peers already in the swarm a joining peer is given (the swarm's stand-in for a tracker's
    /// answer; seeds are always among them). PEX spreads the rest.
    public var initialContacts: Int
    /// The run stops at this virtual time even if not every leecher completed.
    public var deadline: TimeAmount
    /// The virtual time between two looks at the swarm (completion, joins and leaves); the network and the
    /// engines' timers run at their own instants regardless.
    public var step: TimeAmount
    /// Lets a caller change every client's configuration (the policy under test: limits, choker slots,
    /// pipeline depths); called with the peer's number and spec after the simulator's own settings.
    public var configureClient: @Sendable (inout ClientConfiguration, Int, PeerSpec) -> Void

    /// A configuration of `peers` over `contentSize` bytes.
    public init(
        seed: UInt64 = 1, contentSize: Int = 4 << 20, pieceLength: Int = 256 * 1024, peers: [PeerSpec],
        initialContacts: Int = 12, deadline: TimeAmount = .seconds(3_600), step: TimeAmount = .milliseconds(50),
        configureClient: @escaping @Sendable (inout ClientConfiguration, Int, PeerSpec) -> Void = { _, _, _ in }
    ) {
        self.seed = seed
        self.contentSize = contentSize
        self.pieceLength = pieceLength
        self.peers = peers
        self.initialContacts = initialContacts
        self.deadline = deadline
        self.step = step
        self.configureClient = configureClient
    }

    /// A common shape: `seeds` seeds and `leechers` leechers of which the last `freeRiders + liars` are
    /// `freeRiders` free-riders then `liars` liars, all on `profile` except the seeds, whose upload is `seedUpload` bytes per second.
    public static func swarm(
        seeds: Int = 1, leechers: Int, freeRiders: Int = 0, liars: Int = 0, profile: NodeProfile = NodeProfile(),
        seedUpload: Int? = nil, contentSize: Int = 4 << 20, pieceLength: Int = 256 * 1024, seed: UInt64 = 1
    ) -> SwarmConfiguration {
        var seedProfile = profile
        if let seedUpload { seedProfile.uploadBytesPerSecond = seedUpload }
        var peers = Array(repeating: PeerSpec(role: .seed, profile: seedProfile), count: seeds)
        for index in 0..<leechers {
            let special = index - (leechers - freeRiders - liars)
            let behaviour: PeerBehaviour = special < 0 ? .honest : special < freeRiders ? .freeRider : .liar
            peers.append(PeerSpec(role: .leecher, behaviour: behaviour, profile: profile))
        }
        return SwarmConfiguration(seed: seed, contentSize: contentSize, pieceLength: pieceLength, peers: peers)
    }

    /// Checks the description: at least one seed, positive sizes, a piece length of whole blocks.
    func validate() throws(SimulationError) {
        guard peers.contains(where: { $0.role == .seed }) else {
            throw SimulationError(.invalidSwarm, "a swarm needs at least one seed")
        }
        guard contentSize > 0, pieceLength > 0, pieceLength % (16 * 1024) == 0 else {
            throw SimulationError(.invalidSwarm, "size \(contentSize) or piece length \(pieceLength) unusable")
        }
        guard peers.count <= 60_000, initialContacts > 0, step > .zero, deadline > .zero else {
            throw SimulationError(.invalidSwarm, "at most 60,000 peers, positive contacts, step and deadline")
        }
    }
}
