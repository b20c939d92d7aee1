import BTMetainfo

/// The simulation's deterministic generator: BTMetainfo's ``SeededRandom`` (SplitMix64). Every random draw of
/// a run comes from one seeded stream (``SeededRandom/derived(_:_:)`` gives each node and link its own), so a
/// run repeats exactly; ``SeededRandom/mix(_:)`` also makes the synthetic content.
public typealias SimulationRandom = SeededRandom
