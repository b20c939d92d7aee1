/// SplitMix64 (Steele, Lea and Flood): the one seeded pseudo-random generator of the project. Every module
/// that needs random draws that repeat from a seed uses it: tracker transaction ids and tier shuffles
/// (`TrackerRandom`), DHT node ids, transaction ids and token secrets (`DHTRandom`), the super-seeding
/// policy's tie-breaks, and a simulated swarm's every draw (`SimulationRandom`). It lives in BTMetainfo, the
/// lowest module all of them import.
///
/// Written here because the Swift packages the project uses offer only the system generator, which cannot be
/// seeded. Not for secrets on its own: seed it from `SystemRandomNumberGenerator` (``init()``) where draws
/// must be unpredictable.
public struct SeededRandom: RandomNumberGenerator, Sendable, Hashable {
    private var state: UInt64

    /// A generator starting from `seed`: the same seed gives the same stream.
    public init(seed: UInt64) { state = seed }

    /// A generator seeded from the system's secure generator.
    public init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// SplitMix64's finaliser: a well-mixed 64-bit function of `value`.
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A generator for the sub-stream `label` of `seed` (a node, a link of a simulation), independent of the
    /// order in which other sub-streams draw.
    public static func derived(_ seed: UInt64, _ label: UInt64) -> SeededRandom {
        SeededRandom(seed: mix(seed ^ mix(label &+ 0x5851_F42D_4C95_7F2D)))
    }
}
