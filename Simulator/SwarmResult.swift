/// What happened to one peer in a run. Times are virtual seconds since the start of the run.
public struct PeerResult: Sendable, Hashable, Codable {
    /// The peer's number (its place in ``SwarmConfiguration/peers``).
    public var index: Int
    /// Its address.
    public var host: String
    /// Seed or leecher.
    public var role: PeerSpec.Role
    /// Honest, free-rider or liar.
    public var behaviour: PeerBehaviour
    /// When it joined.
    public var joinedAt: Double
    /// When its download completed (nil: it did not, or it was a seed).
    public var completedAt: Double?
    /// Payload bytes its engine counted as uploaded.
    public var uploadedBytes: Int64
    /// Payload bytes its engine counted as downloaded.
    public var downloadedBytes: Int64
    /// `piece` block bytes delivered to it by the network.
    public var blockBytesReceived: Int
    /// Block bytes it received that were never written: duplicates (endgame, late cancels) and blocks
    /// dropped on arrival.
    public var duplicateBytes: Int
    /// How many distinct peers delivered blocks to it.
    public var sources: Int
    /// Block bytes delivered to it by seeds.
    public var blockBytesFromSeeds: Int
    /// Pieces that failed their hash at this peer.
    public var hashFailures: Int
    /// How many peers blacklisted this one.
    public var blacklistedBy: Int
    /// Whether it ended with a complete copy whose every block is the content's own bytes.
    public var holdsCorrectCopy: Bool
}

/// The outcome of a run: per-peer results and the swarm's figures.
public struct SwarmResult: Sendable, Hashable, Codable {
    /// The run's seed.
    public var seed: UInt64
    /// Payload size.
    public var contentSize: Int
    /// Every peer, by number.
    public var peers: [PeerResult]
    /// Virtual seconds the run took (to the last completion, or to the deadline).
    public var virtualSeconds: Double
    /// Whether every leecher that stays to the end completed.
    public var allCompleted: Bool
    /// The fluid lower bound on the time for every leecher to complete (Kumar and Ross): the largest of the
    /// seeds' time to upload one copy, the time for all the upload capacity that serves real data (seeds,
    /// honest leechers) to carry one copy per leecher, and the slowest leecher's time to download one copy.
    public var idealSeconds: Double
    /// Real seconds the run took.
    public var wallSeconds: Double
    /// How evenly the leechers held the pieces while they downloaded.
    public var availability: PieceAvailability

    /// Virtual seconds for the last leecher to complete divided by ``idealSeconds`` (nil when not all did).
    public var completionOverIdeal: Double? {
        guard allCompleted, idealSeconds > 0 else { return nil }
        let last = peers.compactMap(\.completedAt).max() ?? virtualSeconds
        return last / idealSeconds
    }

    /// The peers that match `predicate`.
    public func peers(where predicate: (PeerResult) -> Bool) -> [PeerResult] { peers.filter(predicate) }

    /// Duplicate bytes received by every peer together.
    public var totalDuplicateBytes: Int { peers.reduce(0) { $0 + $1.duplicateBytes } }

    /// A result with the wall-clock time zeroed: what two runs of one seed must agree on exactly.
    public var withoutWallTime: SwarmResult {
        var copy = self
        copy.wallSeconds = 0
        return copy
    }
}
