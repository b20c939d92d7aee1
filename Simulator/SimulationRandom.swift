/// SplitMix64: the simulation's deterministic generator (every random draw of a run comes from one seeded
/// stream, so a run repeats exactly). BTTracker's `TrackerRandom` is the same algorithm, but BTSimulator does
/// not depend on BTTracker, so the dozen lines live here too.
public struct SimulationRandom: RandomNumberGenerator, Sendable, Hashable {
    private var state: UInt64

    /// A generator starting from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// SplitMix64's finaliser: a well-mixed 64-bit function of `value` (also the content generator's).
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A new generator for a sub-stream `label` of this run (a node, a link), independent of draw order.
    public static func derived(_ seed: UInt64, _ label: UInt64) -> SimulationRandom {
        SimulationRandom(seed: mix(seed ^ mix(label &+ 0x5851_F42D_4C95_7F2D)))
    }
}
