/// How evenly the leechers held the torrent's pieces while they downloaded (issue 18's "piece availability
/// under rarest first"): at every step of the run where the leechers present held between none and all of
/// the pieces, the copies of the rarest piece among them against the mean copies of a piece.
///
/// Rarest first keeps the ratio near 1 (every piece about as common as the others, so any two leechers have
/// something to trade and the swarm survives its seeds leaving); a picker that takes pieces in order leaves
/// the last pieces with no copy outside the seeds until late.
public struct PieceAvailability: Sendable, Hashable, Codable {
    /// Steps sampled (those while the distribution was under way).
    public var samples: Int
    /// Mean over the samples of the rarest piece's copies divided by the mean copies (0...1).
    public var rarestOverMean: Double
    /// Share of the samples in which some piece had no copy among the leechers (only seeds held it).
    public var withoutLeecherCopy: Double

    /// A figure of `samples` samples.
    public init(samples: Int = 0, rarestOverMean: Double = 0, withoutLeecherCopy: Double = 0) {
        self.samples = samples
        self.rarestOverMean = rarestOverMean
        self.withoutLeecherCopy = withoutLeecherCopy
    }
}

/// Counts the leechers' copies of each piece as their pieces pass their hash and as they leave, and samples
/// the ``PieceAvailability`` figure. Confined to the simulator's driver (its book takes the events).
struct AvailabilityCounter {
    private(set) var copies: [Int]
    private var held: [Int: Set<Int>] = [:]
    private var ratioSum = 0.0
    private var samples = 0
    private var withoutCopy = 0

    init(pieces: Int) { copies = Array(repeating: 0, count: pieces) }

    /// Leecher `peer` holds `piece` (its hash passed).
    mutating func verified(_ piece: Int, by peer: Int) {
        guard piece >= 0, piece < copies.count, held[peer, default: []].insert(piece).inserted else { return }
        copies[piece] += 1
    }

    /// Leecher `peer` left: its copies are gone.
    mutating func left(_ peer: Int) {
        for piece in held.removeValue(forKey: peer) ?? [] { copies[piece] -= 1 }
    }

    /// Samples the figure now, when `leechers` are present and the distribution is under way (some piece
    /// held, not every leecher holding every piece).
    mutating func sample(leechers: Int) {
        guard leechers > 0, !copies.isEmpty else { return }
        let total = copies.reduce(0, +)
        guard total > 0, total < leechers * copies.count else { return }
        let mean = Double(total) / Double(copies.count)
        let rarest = copies.min() ?? 0
        ratioSum += Double(rarest) / mean
        samples += 1
        if rarest == 0 { withoutCopy += 1 }
    }

    /// The figure so far.
    var figure: PieceAvailability {
        guard samples > 0 else { return PieceAvailability() }
        return PieceAvailability(
            samples: samples, rarestOverMean: ratioSum / Double(samples),
            withoutLeecherCopy: Double(withoutCopy) / Double(samples))
    }
}
