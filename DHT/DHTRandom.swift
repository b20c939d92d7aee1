/// A seeded pseudo-random generator (SplitMix64), so that a node's ids, transaction ids and token secrets
/// come from one injected seed: a simulation of 10,000 nodes replays exactly, run after run.
///
/// Written here because the project's dependencies offer only the system generator, which cannot be
/// seeded. Token secrets still get their unpredictability from the seed, which a production node takes from
/// `SystemRandomNumberGenerator` (the default of ``DHTConfiguration/randomSeed``).
public struct DHTRandom: RandomNumberGenerator, Sendable {
    var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
